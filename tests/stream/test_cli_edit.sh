#!/usr/bin/env bash
# sana edit end to end on the tiny random model: a real encoded video in (made by ffmpeg here),
# frame count, size and timing out; side by side; bad input refused with no partial output.
set -u
sana=$1 tiny=$2
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
pass=0 fail=0
ok() { if eval "$2"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL: $1"; fi; }
probe() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames,width,height,r_frame_rate -of csv=p=0 "$1"; }

ffmpeg -loglevel error -y -f lavfi -i testsrc=size=96x64:rate=25 -t 2.4 -pix_fmt yuv420p "$t/in.mp4"   # 60 frames
ffmpeg -loglevel error -y -f lavfi -i testsrc=size=80x80:rate=12 -t 1 -c:v libvpx-vp9 -pix_fmt yuv420p "$t/short.webm" # 12 frames

"$sana" edit "$t/in.mp4" -o "$t/out.mp4" -p "make it snow" -w "$tiny" --size 64x64 --seed 3 -q
ok "edit exits 0" "[ $? = 0 ]"
ok "60 frames 64x64 at 25 fps" "[ \"$(probe "$t/out.mp4")\" = '64,64,25/1,60' ]"
dur=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$t/out.mp4")
ok "duration follows the input (2.4 s, got $dur)" "awk -v d=$dur 'BEGIN{exit !(d>2.3 && d<2.5)}'"

"$sana" edit "$t/in.mp4" -o "$t/sbs.webm" -p "make it snow" -w "$tiny" --size 64x64 --side-by-side --fps 10 --prompt-at chunk:1="now rain" -q
ok "side by side is twice as wide, forced 10 fps" "[ \"$(probe "$t/sbs.webm")\" = '128,64,10/1,60' ]"

"$sana" edit "$t/short.webm" -o "$t/short.mp4" -p "x" -w "$tiny" --size 64x64 -q
ok "a clip shorter than the first chunk (12 frames) gives 12 frames" "[ \"$(probe "$t/short.mp4" | cut -d, -f4)\" = 12 ]"

expect_fail() { # name, expected message part, output path, args...
  local name=$1 msg=$2 out=$3; shift 3
  local err
  err=$("$sana" edit "$@" -q 2>&1 >/dev/null); local rc=$?
  ok "$name: non-zero exit" "[ $rc != 0 ]"
  ok "$name: says '$msg' (got: $err)" "echo \"\$err\" | grep -qi -- \"$msg\""
  ok "$name: no output left" "[ ! -e \"$out\" ] && [ -z \"\$(ls -A \"$(dirname "$out")\" | grep '^\.' )\" ]"
}
mkdir -p "$t/o1" "$t/o2" "$t/o3" "$t/o4" "$t/o5" "$t/o6"
expect_fail "missing input" "nope.mp4" "$t/o1/x.mp4" "$t/nope.mp4" -o "$t/o1/x.mp4" -p a -w "$tiny" --size 64x64
printf 'not a video at all' > "$t/text.mp4"
expect_fail "not a video" "text.mp4" "$t/o2/x.mp4" "$t/text.mp4" -o "$t/o2/x.mp4" -p a -w "$tiny" --size 64x64
: > "$t/empty.mp4"
expect_fail "empty file" "empty.mp4" "$t/o3/x.mp4" "$t/empty.mp4" -o "$t/o3/x.mp4" -p a -w "$tiny" --size 64x64
expect_fail "missing weights" "missing" "$t/o4/x.mp4" "$t/in.mp4" -o "$t/o4/x.mp4" -p a -w "$t/noweights" --size 64x64
expect_fail "unwritable output" "$t/o6/sub/x.mp4" "$t/o6/x.mp4" "$t/in.mp4" -o "$t/o6/sub/x.mp4" -p a -w "$tiny" --size 64x64
expect_fail "bad size" "multiples of 32" "$t/o5/x.mp4" "$t/in.mp4" -o "$t/o5/x.mp4" -p a -w "$tiny" --size 65x64
expect_fail "bad schedule" "prompt-at" "$t/o5/x.mp4" "$t/in.mp4" -o "$t/o5/x.mp4" -p a -w "$tiny" --prompt-at soon=x
info=$("$sana" info "$tiny"); rc=$?
ok "info on the tiny model: exit 0" "[ $rc = 0 ]"
ok "info detects the DiT config" "echo \"\$info\" | grep -q 'depth 4, hidden 64, 2 heads x 32, 3 GDN + 1 softmax blocks (3)'"
ok "info reads the VAE config" "echo \"\$info\" | grep -q 'compression 32x spatial 8x temporal'"
info=$("$sana" info "$t/noweights"); rc=$?
ok "info on an empty dir: exit 1, names what is missing" "[ $rc = 1 ] && echo \"\$info\" | grep -q 'missing dit/sana_streaming_ar.pth'"
bench=$("$sana" bench -w "$tiny" --size 64x64 --chunks 3 --backend cpu 2>&1); rc=$?
ok "bench runs 3 chunks on the CPU and reports the steady state (rc $rc)" "[ $rc = 0 ] && echo \"\$bench\" | grep -q 'first chunk latency'"
echo "test_cli_edit: $pass passed, $fail failed"
[ $fail = 0 ]
