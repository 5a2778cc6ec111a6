# Benchmarks (bench/): programs for timing on the GPU machine, built with the rest but not
# tests. sana_vae_time: the VAE alone per chunk, with a per-op profile (tools/gpu/vae_time.sh).
add_executable(sana_vae_time ${CMAKE_SOURCE_DIR}/bench/vae_time.c)
target_link_libraries(sana_vae_time PRIVATE sana_engine)
