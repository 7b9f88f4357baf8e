// hip2cuda.h: run HIP programs on an NVIDIA GPU with nvcc. Force-include it (nvcc -include
// hip2cuda.h) and drop the program's #include <hip/...> lines (xpiler/oracle/gpu.py does both).
//
// The distribution's HIP-for-NVIDIA headers do not compile against CUDA 13; this maps the HIP
// runtime API and device spellings that tensor programs use onto CUDA: hipMalloc -> cudaMalloc,
// hipLaunchKernelGGL(k, g, b, sh, st, ...) -> k<<<g, b, sh, st>>>(...), hipThreadIdx_x ->
// threadIdx.x, __shfl_down(v, d) -> __shfl_down_sync(0xffffffff, v, d), __ballot -> __ballot_sync,
// HIP_DYNAMIC_SHARED, hipMemcpyToSymbol(HIP_SYMBOL(s), ...), __half from cuda_fp16.h, ...
//
// Not mapped (these programs run in the CPU emulation only): AMD builtins (__builtin_amdgcn_*,
// MFMA) and code that assumes 64-lane wavefronts: warpSize is 32 here, and a shuffle width above 32
// is undefined on NVIDIA.
#ifndef XPILER_HIP2CUDA_H
#define XPILER_HIP2CUDA_H

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>

#define __HIP_PLATFORM_NVIDIA__ 1
#define __HIP_PLATFORM_NVCC__ 1
#define XPILER_HIP2CUDA 1

// ---- types and constants
typedef cudaError_t hipError_t;
typedef cudaStream_t hipStream_t;
typedef cudaEvent_t hipEvent_t;
typedef cudaDeviceProp hipDeviceProp_t;
typedef cudaMemcpyKind hipMemcpyKind;
typedef __nv_bfloat16 hip_bfloat16;
#define hipSuccess cudaSuccess
#define hipErrorInvalidValue cudaErrorInvalidValue
#define hipErrorOutOfMemory cudaErrorMemoryAllocation
#define hipErrorMemoryAllocation cudaErrorMemoryAllocation
#define hipErrorNotReady cudaErrorNotReady
#define hipMemcpyHostToHost cudaMemcpyHostToHost
#define hipMemcpyHostToDevice cudaMemcpyHostToDevice
#define hipMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define hipMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define hipMemcpyDefault cudaMemcpyDefault
#define hipStreamDefault cudaStreamDefault
#define hipStreamNonBlocking cudaStreamNonBlocking
#define hipEventDefault cudaEventDefault
#define hipHostMallocDefault cudaHostAllocDefault
#define hipFuncAttributeMaxDynamicSharedMemorySize cudaFuncAttributeMaxDynamicSharedMemorySize
#define hipDeviceAttributeMultiprocessorCount cudaDevAttrMultiProcessorCount
#define hipDeviceAttributeMaxThreadsPerBlock cudaDevAttrMaxThreadsPerBlock
#define hipDeviceAttributeWarpSize cudaDevAttrWarpSize

// ---- runtime API
#define hipMalloc cudaMalloc
#define hipMallocManaged cudaMallocManaged
#define hipHostMalloc(p, n, ...) cudaMallocHost(p, n)
#define hipMallocHost cudaMallocHost
#define hipFree cudaFree
#define hipHostFree cudaFreeHost
#define hipFreeHost cudaFreeHost
#define hipMemcpy cudaMemcpy
#define hipMemcpyAsync cudaMemcpyAsync
#define hipMemcpy2D cudaMemcpy2D
#define hipMemcpyHtoD(dst, src, n) cudaMemcpy((dst), (src), (n), cudaMemcpyHostToDevice)
#define hipMemcpyDtoH(dst, src, n) cudaMemcpy((dst), (src), (n), cudaMemcpyDeviceToHost)
#define hipMemcpyDtoD(dst, src, n) cudaMemcpy((dst), (src), (n), cudaMemcpyDeviceToDevice)
#define hipMemset cudaMemset
#define hipMemsetAsync cudaMemsetAsync
#define hipMemcpyToSymbol cudaMemcpyToSymbol
#define hipMemcpyFromSymbol cudaMemcpyFromSymbol
#define HIP_SYMBOL(x) x
#define hipDeviceSynchronize cudaDeviceSynchronize
#define hipDeviceReset cudaDeviceReset
#define hipGetLastError cudaGetLastError
#define hipPeekAtLastError cudaPeekAtLastError
#define hipGetErrorString cudaGetErrorString
#define hipGetErrorName cudaGetErrorName
#define hipSetDevice cudaSetDevice
#define hipGetDevice cudaGetDevice
#define hipGetDeviceCount cudaGetDeviceCount
#define hipGetDeviceProperties cudaGetDeviceProperties
#define hipDeviceGetAttribute cudaDeviceGetAttribute
#define hipFuncSetAttribute(f, a, v) cudaFuncSetAttribute((f), (a), (v))
#define hipStreamCreate cudaStreamCreate
#define hipStreamCreateWithFlags cudaStreamCreateWithFlags
#define hipStreamDestroy cudaStreamDestroy
#define hipStreamSynchronize cudaStreamSynchronize
#define hipStreamWaitEvent cudaStreamWaitEvent
#define hipEventCreate cudaEventCreate
#define hipEventCreateWithFlags cudaEventCreateWithFlags
#define hipEventDestroy cudaEventDestroy
#define hipEventRecord cudaEventRecord
#define hipEventSynchronize cudaEventSynchronize
#define hipEventElapsedTime cudaEventElapsedTime
#define hipLaunchKernelGGL(kernel, grid, block, shmem, stream, ...) \
    kernel<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__)
#define HIP_KERNEL_NAME(...) __VA_ARGS__
#define HIP_DYNAMIC_SHARED(type, var) extern __shared__ type var[];
#define HIP_DYNAMIC_SHARED_ATTRIBUTE

// ---- built-in variables
#define hipThreadIdx_x (threadIdx.x)
#define hipThreadIdx_y (threadIdx.y)
#define hipThreadIdx_z (threadIdx.z)
#define hipBlockIdx_x (blockIdx.x)
#define hipBlockIdx_y (blockIdx.y)
#define hipBlockIdx_z (blockIdx.z)
#define hipBlockDim_x (blockDim.x)
#define hipBlockDim_y (blockDim.y)
#define hipBlockDim_z (blockDim.z)
#define hipGridDim_x (gridDim.x)
#define hipGridDim_y (gridDim.y)
#define hipGridDim_z (gridDim.z)

// ---- warp primitives without masks (32 lanes here); macros, since CUDA still declares the
// legacy maskless __shfl/__ballot/__any/__all with other signatures
#define __shfl(v, ...) __shfl_sync(0xffffffffu, v, __VA_ARGS__)
#define __shfl_up(v, ...) __shfl_up_sync(0xffffffffu, v, __VA_ARGS__)
#define __shfl_down(v, ...) __shfl_down_sync(0xffffffffu, v, __VA_ARGS__)
#define __shfl_xor(v, ...) __shfl_xor_sync(0xffffffffu, v, __VA_ARGS__)
#define __ballot(pred) ((unsigned long long)__ballot_sync(0xffffffffu, (pred)))
#define __any(pred) __any_sync(0xffffffffu, (pred))
#define __all(pred) __all_sync(0xffffffffu, (pred))
__device__ __forceinline__ unsigned __lane_id() {
    unsigned r;
    asm volatile("mov.u32 %0, %%laneid;" : "=r"(r));
    return r;
}
#define __builtin_amdgcn_s_barrier __syncthreads
#define __builtin_amdgcn_wave_barrier __syncwarp
#define __builtin_amdgcn_fence(order, scope) __threadfence_block()
#define __AMDGCN_WAVEFRONT_SIZE 32

#endif  // XPILER_HIP2CUDA_H
