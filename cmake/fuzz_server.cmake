# libFuzzer target for the data-channel command parser (option SANA_FUZZ, needs clang):
#   CC=clang cmake -S . -B build-fuzz -DSANA_FUZZ=ON && cmake --build build-fuzz --target fuzz_server_cmd
#   build-fuzz/fuzz_server_cmd fuzz/corpus/server_cmd
# The corpus is replayed by the CTest `server_fuzz_replay` in every build (tests/server).
if(SANA_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SANA_FUZZ needs clang (CC=clang)")
  endif()
  # protocol.c is compiled into the target so that it gets the coverage instrumentation.
  add_executable(fuzz_server_cmd ${CMAKE_SOURCE_DIR}/fuzz/fuzz_server_cmd.c ${CMAKE_SOURCE_DIR}/server/protocol.c)
  target_include_directories(fuzz_server_cmd PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(fuzz_server_cmd PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_server_cmd PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_server_cmd PRIVATE PkgConfig::CJSON m)
endif()

# The SDP offer inspection (server/sdp.c, GStreamer's SDP library):
#   build-fuzz/fuzz_server_sdp fuzz/corpus/server_sdp
if(SANA_FUZZ)
  pkg_check_modules(SANA_FUZZ_GST_SDP IMPORTED_TARGET gstreamer-sdp-1.0)
  if(SANA_FUZZ_GST_SDP_FOUND)
    add_executable(fuzz_server_sdp ${CMAKE_SOURCE_DIR}/fuzz/fuzz_server_sdp.c ${CMAKE_SOURCE_DIR}/server/sdp.c)
    target_include_directories(fuzz_server_sdp PRIVATE ${CMAKE_SOURCE_DIR})
    target_compile_options(fuzz_server_sdp PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_server_sdp PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_server_sdp PRIVATE PkgConfig::SANA_FUZZ_GST_SDP)
  endif()
endif()
