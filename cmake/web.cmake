# The web app (web/): its modules and the official @reactor-team/js-sdk bundled by esbuild
# (npm) into <build>/web, where `sana serve` finds it without --web (server/web.c). Not part
# of `all`, since the first build needs npm registry access:
#   cmake --build build --target web
add_custom_target(web
  COMMAND ${CMAKE_SOURCE_DIR}/web/build.sh ${CMAKE_BINARY_DIR}/web ${CMAKE_BINARY_DIR}/web-node
  COMMENT "Bundling the web app into ${CMAKE_BINARY_DIR}/web" VERBATIM USES_TERMINAL)
# An install puts it where an installed `sana` looks: <prefix>/share/sana/web.
install(DIRECTORY ${CMAKE_BINARY_DIR}/web/ DESTINATION share/sana/web OPTIONAL)
