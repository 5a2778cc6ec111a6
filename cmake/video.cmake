# Video file I/O (io/video.c: FFmpeg 5.1 libraries) and weight downloads (io/fetch.c,
# cli/cmd_fetch.c: libcurl and OpenSSL's libcrypto for SHA-256). Packages: tools/deps/video.apt.
#
# Both are optional so that hosts without them (the GPU machine has no FFmpeg or libcurl
# headers) still build the engine: the missing part's sources are left out of the build
# (HEADER_FILE_ONLY), cli/pending.c answers for its command, and its tests are skipped.
# Code that needs them checks SANA_HAVE_VIDEO / SANA_HAVE_FETCH (CMake variables here, and
# compile definitions of sana_engine's users).
pkg_check_modules(LIBAV IMPORTED_TARGET libavformat libavcodec libavutil libswscale)
if(LIBAV_FOUND)
  set(SANA_HAVE_VIDEO ON)
  target_link_libraries(sana_engine PUBLIC PkgConfig::LIBAV)
  target_compile_definitions(sana_engine PUBLIC SANA_HAVE_VIDEO=1)
else()
  set(SANA_HAVE_VIDEO OFF)
  message(STATUS "sana: FFmpeg libraries not found, building without video file I/O")
  set_source_files_properties(${CMAKE_SOURCE_DIR}/io/video.c ${CMAKE_SOURCE_DIR}/cli/cmd_edit.c
                              PROPERTIES HEADER_FILE_ONLY ON)
endif()

pkg_check_modules(CURL IMPORTED_TARGET libcurl)
pkg_check_modules(LIBCRYPTO IMPORTED_TARGET libcrypto)
if(CURL_FOUND AND LIBCRYPTO_FOUND)
  set(SANA_HAVE_FETCH ON)
  target_link_libraries(sana_engine PUBLIC PkgConfig::CURL PkgConfig::LIBCRYPTO)
  target_compile_definitions(sana_engine PUBLIC SANA_HAVE_FETCH=1)
else()
  set(SANA_HAVE_FETCH OFF)
  message(STATUS "sana: libcurl or libcrypto not found, building without `sana fetch`")
  set_source_files_properties(${CMAKE_SOURCE_DIR}/io/fetch.c ${CMAKE_SOURCE_DIR}/cli/cmd_fetch.c
                              PROPERTIES HEADER_FILE_ONLY ON)
endif()

# libFuzzer target for the hub's file listing (untrusted JSON from the network); its seeds
# are replayed by tests/fetch in ordinary builds.
if(SANA_FUZZ AND SANA_HAVE_FETCH)
  add_executable(fuzz_hub_tree ${CMAKE_SOURCE_DIR}/fuzz/fuzz_hub_tree.c ${CMAKE_SOURCE_DIR}/io/fetch.c
                 ${CMAKE_SOURCE_DIR}/core/error.c ${CMAKE_SOURCE_DIR}/core/log.c)
  target_include_directories(fuzz_hub_tree PRIVATE ${CMAKE_SOURCE_DIR})
  target_compile_options(fuzz_hub_tree PRIVATE -g -O1 -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_hub_tree PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_hub_tree PRIVATE PkgConfig::CJSON PkgConfig::CURL PkgConfig::LIBCRYPTO)
endif()
