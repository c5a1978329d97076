//! The few CUDA runtime calls kogi makes itself, on the small buffers of a GPU decode step: reading
//! back its result (8 bytes) and writing a step's ids or attention mask. ONNX Runtime's own copies
//! run a whole session for each (an identity graph), which cost about as much per token as removing
//! a host-synchronised run saved (measured on an H200); `cudaMemcpy` from the CUDA runtime that ONNX
//! Runtime's CUDA provider already loaded takes microseconds. Without the library, callers fall back
//! to ONNX Runtime's copy.

use std::ffi::{c_int, c_void};
use std::sync::OnceLock;

type Memcpy = unsafe extern "C" fn(dst: *mut c_void, src: *const c_void, count: usize, kind: c_int) -> c_int;
type Synchronize = unsafe extern "C" fn() -> c_int;

/// `cudaMemcpyHostToDevice`, `cudaMemcpyDeviceToHost`.
const HOST_TO_DEVICE: c_int = 1;
const DEVICE_TO_HOST: c_int = 2;

pub struct CudaRuntime {
    memcpy: Memcpy,
    synchronize: Synchronize,
    _lib: libloading::Library,
}

/// The CUDA runtime library (CUDA 13, which ONNX Runtime's GPU build needs, or an older one), once.
pub fn runtime() -> Option<&'static CudaRuntime> {
    static RT: OnceLock<Option<CudaRuntime>> = OnceLock::new();
    RT.get_or_init(|| {
        ["libcudart.so.13", "libcudart.so.12", "libcudart.so"].iter().find_map(|name| {
            // SAFETY: loading the CUDA runtime runs no user code; the symbols have the documented
            // signatures of cudaMemcpy and cudaDeviceSynchronize.
            unsafe {
                let lib = libloading::Library::new(*name).ok()?;
                let memcpy = *lib.get::<Memcpy>(b"cudaMemcpy\0").ok()?;
                let synchronize = *lib.get::<Synchronize>(b"cudaDeviceSynchronize\0").ok()?;
                Some(CudaRuntime { memcpy, synchronize, _lib: lib })
            }
        })
    })
    .as_ref()
}

fn check(code: c_int, what: &str) -> Result<(), String> {
    if code == 0 { Ok(()) } else { Err(format!("{what} failed with CUDA error {code}")) }
}

impl CudaRuntime {
    /// Copy `dst.len()` values from device memory at `src`.
    ///
    /// # Safety
    /// `src` points to at least that much device memory, and the work writing it has finished.
    pub unsafe fn copy_to_host<T: Copy>(&self, dst: &mut [T], src: *const c_void) -> Result<(), String> {
        // SAFETY: per the caller's guarantee; `dst` is valid host memory of the given size.
        check(unsafe { (self.memcpy)(dst.as_mut_ptr().cast(), src, std::mem::size_of_val(dst), DEVICE_TO_HOST) }, "cudaMemcpy")
    }

    /// Copy `src` into device memory at `dst` and wait until it is there: ONNX Runtime runs on its
    /// own stream, which a copy on the default stream does not order against.
    ///
    /// # Safety
    /// `dst` points to at least `src`'s size of device memory that no running work reads.
    pub unsafe fn copy_to_device<T: Copy>(&self, dst: *mut c_void, src: &[T]) -> Result<(), String> {
        // SAFETY: per the caller's guarantee; `src` is valid host memory of the given size.
        check(unsafe { (self.memcpy)(dst, src.as_ptr().cast(), std::mem::size_of_val(src), HOST_TO_DEVICE) }, "cudaMemcpy")?;
        // SAFETY: no arguments; waits for the copy above (and anything else queued on the device).
        check(unsafe { (self.synchronize)() }, "cudaDeviceSynchronize")
    }
}
