# libFuzzer target for the tokenizer.json loader and the encoder (fuzz/fuzz_tokenizer.c), built
# like cmake/fuzz.cmake's targets with -DSANA_FUZZ=ON and clang (tools/fuzz.sh ... tokenizer).
# Its corpus replay in the ordinary build is tests/tokenizer's fuzz_replay_tokenizer.
if(SANA_FUZZ)
  set(SANA_FUZZ_TOKENIZER_SRC io/tokenizer.c io/tokenizer_load.c io/json_pull.c io/file.c model/prompt.c core/utf8.c
      core/error.c)
  list(TRANSFORM SANA_FUZZ_TOKENIZER_SRC PREPEND ${CMAKE_SOURCE_DIR}/)
  add_executable(fuzz_tokenizer ${CMAKE_SOURCE_DIR}/fuzz/fuzz_tokenizer.c ${SANA_FUZZ_TOKENIZER_SRC})
  target_include_directories(fuzz_tokenizer PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(fuzz_tokenizer PRIVATE -g -O1 -fno-omit-frame-pointer
                         -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
  target_link_options(fuzz_tokenizer PRIVATE -fsanitize=fuzzer,address,undefined)
endif()
