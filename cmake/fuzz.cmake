# libFuzzer targets for the parsers of untrusted bytes (fuzz/fuzz_<name>.c), built with
# -DSANA_FUZZ=ON and clang against an instrumented copy of the parsers. tools/fuzz.sh configures
# such a build, builds the targets and runs each for a bounded time.
if(SANA_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "SANA_FUZZ needs clang: configure with -DCMAKE_C_COMPILER=clang")
  endif()
  set(SANA_FUZZ_PARSERS io/pth.c io/zip.c io/pickle.c io/safetensors.c io/checkpoint.c io/file.c core/error.c core/tensor.c)
  list(TRANSFORM SANA_FUZZ_PARSERS PREPEND ${CMAKE_SOURCE_DIR}/)
  add_library(sana_fuzz_parsers STATIC ${SANA_FUZZ_PARSERS})
  target_include_directories(sana_fuzz_parsers PUBLIC ${CMAKE_SOURCE_DIR})
  target_compile_options(sana_fuzz_parsers PUBLIC -g -O1 -fno-omit-frame-pointer
                         -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined)
  target_link_libraries(sana_fuzz_parsers PUBLIC PkgConfig::CJSON)
  foreach(t pth pickle safetensors json)
    add_executable(fuzz_${t} ${CMAKE_SOURCE_DIR}/fuzz/fuzz_${t}.c)
    target_link_libraries(fuzz_${t} PRIVATE sana_fuzz_parsers)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
endif()
