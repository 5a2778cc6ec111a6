# libFuzzer targets of the VAE's parsers (config.json, safetensors); clang only:
#   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DSANA_FUZZ=ON && cmake --build build-fuzz --target fuzz_vae_config
#   build-fuzz/fuzz_vae_config -max_total_time=60
if(SANA_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  foreach(target fuzz_vae_config fuzz_vae_weights)
    add_executable(${target} ${CMAKE_SOURCE_DIR}/fuzz/${target}.c)
    target_compile_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${target} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(${target} PRIVATE sana_engine)
  endforeach()
endif()
