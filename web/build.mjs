// Bundles the web app with esbuild: node web/build.mjs OUT NODE_MODULES (see build.sh).
// The output appears whole or not at all (built in OUT.tmp, then renamed).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const [out, nodeModules] = process.argv.slice(2).map((a) => path.resolve(a));
const here = path.dirname(fileURLToPath(import.meta.url));
const esbuild = createRequire(path.join(nodeModules, "x.js"))("esbuild");
const tmp = `${out}.tmp`;
fs.rmSync(tmp, { recursive: true, force: true });
fs.mkdirSync(tmp, { recursive: true });
await esbuild.build({
  entryPoints: [path.join(here, "app.js")], bundle: true, format: "esm", outfile: path.join(tmp, "app.js"),
  // "production" keeps the SDK's guard that drops commands until the session is ready
  define: { "process.env.NODE_ENV": '"production"' }, nodePaths: [nodeModules], minify: true,
  target: "es2020", legalComments: "eof", logLevel: "error",
});
for (const f of ["index.html", "style.css"]) fs.copyFileSync(path.join(here, f), path.join(tmp, f));
fs.rmSync(out, { recursive: true, force: true });
fs.renameSync(tmp, out);
const kb = (fs.statSync(path.join(out, "app.js")).size / 1024).toFixed(0);
console.log(`web: built ${out} (app.js ${kb} KB)`);
