# Video file I/O (FFmpeg 5.1 libraries) and weight downloads (libcurl, OpenSSL's libcrypto for
# SHA-256). Packages: tools/deps/video.apt. io/video.c and io/fetch.c are globbed into the
# engine library, so these are required.
pkg_check_modules(LIBAV REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(LIBCRYPTO REQUIRED IMPORTED_TARGET libcrypto)
target_link_libraries(sana_engine PUBLIC PkgConfig::LIBAV PkgConfig::CURL PkgConfig::LIBCRYPTO)
