# The CUDA backend (backend/cuda/*.cu), built into sana_engine when SANA_CUDA is ON and nvcc
# is found (CUDACXX, CMAKE_CUDA_COMPILER, or /usr/local/cuda/bin/nvcc). Without nvcc the build
# goes on without it, silently: backend.c then answers "cuda" with "no CUDA support".
#
# Target: sm_90 machine code plus compute_90 PTX (Hopper; the PTX lets newer GPUs JIT it).
# Override with -DCMAKE_CUDA_ARCHITECTURES=... The kernels are compiled in their own object
# library so the C-only warning and sanitizer flags of the top file never reach nvcc.
if(NOT SANA_CUDA)
  return()
endif()

if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(STATUS "sana: nvcc not found, building without the CUDA backend")
  return()
endif()

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)

file(GLOB SANA_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/backend/cuda/*.cu)
add_library(sana_cuda_objs OBJECT ${SANA_CUDA_SOURCES})
set_property(TARGET sana_cuda_objs PROPERTY COMPILE_OPTIONS "")
target_compile_options(sana_cuda_objs PRIVATE
  $<$<CONFIG:Debug>:-G> -lineinfo -Xcompiler=-Wall,-Wextra,-Wno-unused-parameter)
target_include_directories(sana_cuda_objs PRIVATE ${CMAKE_SOURCE_DIR})
target_link_libraries(sana_cuda_objs PRIVATE CUDA::cudart CUDA::cublasLt)
set_property(TARGET sana_cuda_objs PROPERTY POSITION_INDEPENDENT_CODE ON)

# cuDNN 9 (optional) runs vae.conv3d; without it the backend's own conv kernel does. Looked
# for beside the CUDA toolkit, under CUDNN_ROOT (e.g. a pip nvidia-cudnn package's folder),
# and on the default paths; SANA_CUDNN=OFF leaves it out.
option(SANA_CUDNN "use cuDNN for the CUDA backend's 3-D convolutions when it is found" ON)
if(SANA_CUDNN)
  find_path(SANA_CUDNN_INCLUDE cudnn.h HINTS ${CUDAToolkit_INCLUDE_DIRS} $ENV{CUDNN_ROOT}/include)
  find_library(SANA_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9
    HINTS ${CUDAToolkit_LIBRARY_DIR} $ENV{CUDNN_ROOT}/lib $ENV{CUDNN_ROOT}/lib64)
endif()
if(SANA_CUDNN AND SANA_CUDNN_INCLUDE AND SANA_CUDNN_LIBRARY)
  target_include_directories(sana_cuda_objs PRIVATE ${SANA_CUDNN_INCLUDE})
  target_compile_definitions(sana_cuda_objs PRIVATE SANA_HAVE_CUDNN)
  # the legacy convolution API is deprecated in cuDNN 9 but still the shortest way to it
  target_compile_options(sana_cuda_objs PRIVATE -Wno-deprecated-declarations
    -Xcompiler=-Wno-deprecated-declarations)
  target_link_libraries(sana_engine PUBLIC ${SANA_CUDNN_LIBRARY})
  message(STATUS "sana: cuDNN for vae.conv3d: ${SANA_CUDNN_LIBRARY}")
else()
  message(STATUS "sana: no cuDNN, vae.conv3d uses the backend's own kernel")
endif()

target_sources(sana_engine PRIVATE $<TARGET_OBJECTS:sana_cuda_objs>)
# sana_engine predates enable_language(CUDA), so it missed the architecture default (the top
# file includes this fragment before the others, whose targets get the default).
set_property(TARGET sana_engine PROPERTY CUDA_ARCHITECTURES ${CMAKE_CUDA_ARCHITECTURES})
target_link_libraries(sana_engine PUBLIC CUDA::cublasLt CUDA::cublas CUDA::cudart)
# The nvcc-compiled objects are C++: the C executables need its runtime library.
target_link_libraries(sana_engine PUBLIC stdc++)
set_property(SOURCE ${CMAKE_SOURCE_DIR}/backend/backend.c APPEND PROPERTY COMPILE_DEFINITIONS SANA_HAVE_CUDA)
message(STATUS "sana: CUDA backend for architectures ${CMAKE_CUDA_ARCHITECTURES} (nvcc ${CMAKE_CUDA_COMPILER_VERSION})")
