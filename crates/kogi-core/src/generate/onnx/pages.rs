//! Packed weights in 2 MB pages. A decode step streams every weight once; in 4 KB pages a 1.5B
//! model's 1.4 GB are 350,000 pages a step, far more than the TLB holds. Where transparent huge
//! pages are `madvise` only (Debian's and Ubuntu's default) nothing asks for larger ones, and the
//! weights' buffers come from the allocator's heap, often in pages that loading already touched.
//! Two steps: each buffer of 2 MB or more starts on a huge page ([`Pages`]), its whole huge
//! pages handed back to the kernel (they read as zeros) and marked, so that packing's writes fault
//! them in as huge pages without a copy; the rest (tails and small buffers: 290 MB of a 1.5B
//! model's 1.3 GB, worth another 1–2% of decode) is moved by [`collapse`] once the model is packed,
//! on the loading thread (moved while other threads run, they held up every `brk` of the load by
//! seconds). Measured on Zen 5 (KVM), Qwen2-1.5B Q4_K_M, two threads, both copies in one process,
//! alternated (`bench generate --paired-env KOGI_HUGE_PAGES=off`): decode +3–4%, time to first
//! token −2–5%, loading +0.9–2 s (0.75 s of it the kernel copying the 290 MB, slow in this
//! virtual machine).

const HUGE: usize = 2 << 20;

/// Types whose all-zero bytes are the value zero.
pub trait Zeroed: Copy + Default {}
impl Zeroed for u8 {}
impl Zeroed for u16 {}
impl Zeroed for f32 {}
impl Zeroed for i8 {}

/// A buffer of zeros that starts on a huge page when it is at least one long, so that it owns its
/// whole huge pages: only its tail (less than 2 MB) shares a page with whatever comes next.
pub struct Pages<T: Zeroed> {
    ptr: std::ptr::NonNull<T>,
    len: usize,
    layout: std::alloc::Layout,
}

// SAFETY: an owned buffer of plain values, like a `Vec`.
unsafe impl<T: Zeroed + Send> Send for Pages<T> {}
unsafe impl<T: Zeroed + Sync> Sync for Pages<T> {}

impl<T: Zeroed> Pages<T> {
    /// `len` zeros, in huge pages where the system gives them.
    pub fn zeroed(len: usize) -> Self {
        let bytes = len * std::mem::size_of::<T>();
        let huge = bytes >= HUGE && allowed();
        let align = if huge { HUGE } else { std::mem::align_of::<T>() };
        let layout = std::alloc::Layout::from_size_align(bytes.max(1), align).expect("a buffer's size");
        // SAFETY: a non-zero size. A huge buffer is left unzeroed only where `advise` handed its
        // pages back (they read as zeros) and zeroed below everywhere else.
        let raw = unsafe { if huge { std::alloc::alloc(layout) } else { std::alloc::alloc_zeroed(layout) } };
        let Some(ptr) = std::ptr::NonNull::new(raw as *mut T) else { std::alloc::handle_alloc_error(layout) };
        if huge {
            let start = raw as usize;
            let back = advise(start..start + bytes);
            // SAFETY: both ranges lie within the allocation.
            unsafe {
                std::ptr::write_bytes(raw, 0, back.start - start);
                std::ptr::write_bytes(raw.add(back.end - start), 0, start + bytes - back.end);
            }
        }
        Self { ptr, len, layout }
    }
}

impl<T: Zeroed> std::ops::Deref for Pages<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `len` initialised values owned by `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Zeroed> std::ops::DerefMut for Pages<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as above, borrowed mutably once.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Zeroed> Clone for Pages<T> {
    fn clone(&self) -> Self {
        let mut out = Self::zeroed(self.len);
        out.copy_from_slice(self);
        out
    }
}

impl<T: Zeroed> Drop for Pages<T> {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in `zeroed`.
        unsafe { std::alloc::dealloc(self.ptr.as_ptr() as *mut u8, self.layout) }
    }
}

/// Moves the huge pages `spans` (address ranges of live buffers from [`Pages::zeroed`]) share with each
/// other into huge pages (`MADV_COLLAPSE`, Linux 6.1+): those a buffer has to itself are huge
/// already. One huge page per request, so that one the kernel refuses costs only itself. Contents
/// never change. Returns the bytes moved.
pub fn collapse(spans: Vec<std::ops::Range<usize>>) -> usize {
    if !cfg!(target_os = "linux") || !allowed() {
        return 0;
    }
    let mut own: Vec<std::ops::Range<usize>> = spans.iter().map(|s| inside(s.clone())).filter(|r| !r.is_empty()).collect();
    own.sort_by_key(|r| r.start);
    let shared = |at: &usize| {
        let i = own.partition_point(|r| r.start <= *at);
        i == 0 || own[i - 1].end <= *at
    };
    merged(spans).into_iter().flat_map(|r| inside(r).step_by(HUGE)).filter(shared).filter(|&at| move_page(at)).count() * HUGE
}

/// `spans` sorted, those within a huge page of each other as one.
fn merged(mut spans: Vec<std::ops::Range<usize>>) -> Vec<std::ops::Range<usize>> {
    spans.sort_by_key(|s| s.start);
    let mut out: Vec<std::ops::Range<usize>> = Vec::new();
    for s in spans.into_iter().filter(|s| !s.is_empty()) {
        match out.last_mut() {
            Some(last) if s.start <= last.end + HUGE => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

/// The whole huge pages inside `range`.
fn inside(range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let (start, end) = (range.start.next_multiple_of(HUGE), range.end / HUGE * HUGE);
    start..end.max(start)
}

/// Not where transparent huge pages are `never` (the administrator's word), nor with
/// `KOGI_HUGE_PAGES=off` (read at each allocation: a benchmark opens copies with and without).
fn allowed() -> bool {
    static NEVER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let never = *NEVER.get_or_init(|| std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").map_or(true, |s| s.contains("[never]")));
    !never && std::env::var("KOGI_HUGE_PAGES").map_or(true, |v| v != "off")
}

/// Hands back the whole huge pages inside `range` and marks them, so that the next write faults
/// each in as one huge page; returns the range handed back (empty where the kernel said no).
#[cfg(target_os = "linux")]
fn advise(range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let r = inside(range.clone());
    if r.is_empty() {
        return range.start..range.start;
    }
    // SAFETY: whole pages inside one fresh allocation nothing has read yet: `MADV_DONTNEED` makes
    // private anonymous pages read as zeros; `MADV_HUGEPAGE` is advice only.
    unsafe {
        let at = r.start as *mut libc::c_void;
        if libc::madvise(at, r.len(), libc::MADV_HUGEPAGE) == 0 && libc::madvise(at, r.len(), libc::MADV_DONTNEED) == 0 {
            return r;
        }
    }
    r.start..r.start
}

#[cfg(not(target_os = "linux"))]
fn advise(range: std::ops::Range<usize>) -> std::ops::Range<usize> {
    range.start..range.start
}

#[cfg(target_os = "linux")]
fn move_page(at: usize) -> bool {
    // SAFETY: advice on one whole page of live buffers (and at most their neighbours' bytes):
    // neither call changes what it holds or who owns it.
    unsafe {
        libc::madvise(at as *mut libc::c_void, HUGE, libc::MADV_HUGEPAGE);
        libc::madvise(at as *mut libc::c_void, HUGE, libc::MADV_COLLAPSE) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn move_page(_: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_huge_pages_inside_a_buffer_are_asked_for() {
        let m = |x: usize| x << 20;
        assert_eq!(inside(m(10) + 1..m(20) - 1), m(12)..m(18));
        assert_eq!(inside(m(10)..m(20)), m(10)..m(20));
        assert!(inside(m(3) + 5..m(4)).is_empty());
    }

    #[test]
    fn neighbouring_buffers_merge() {
        let m = |x: usize| x << 20;
        let spans = vec![m(20) + 4096..m(31), m(10)..m(20) + 5, m(100) + 1..m(101), m(201)..m(201)];
        assert_eq!(merged(spans), vec![m(10)..m(31), m(100) + 1..m(101)]);
    }

    #[test]
    fn moving_buffers_keeps_what_they_hold() {
        let v: Vec<u64> = (0..3 << 20).map(|i| i * 2654435761).collect();
        let r = v.as_ptr_range();
        let (start, mid, end) = (r.start as usize, r.start as usize + 5 * HUGE + 12345, r.end as usize);
        let moved = collapse(vec![start..mid, mid..end]);
        assert!(moved <= v.len() * 8, "{moved} bytes moved of {}", v.len() * 8);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u64 * 2654435761));
    }

    #[test]
    fn a_buffer_in_huge_pages_starts_on_one_holds_zeros_and_then_what_is_written() {
        // Dirty the allocator's memory first: a reused block must still come back as zeros.
        drop(vec![0xABu8; 9 << 20]);
        let mut v: Pages<u16> = Pages::zeroed((5 << 20) + 3);
        assert_eq!(v.as_ptr() as usize % HUGE, 0);
        assert!(v.iter().all(|&x| x == 0));
        v.iter_mut().enumerate().for_each(|(i, x)| *x = i as u16);
        assert!(v.iter().enumerate().all(|(i, &x)| x == i as u16));
        let w = v.clone();
        assert_eq!(&w[..], &v[..]);
        let f: Pages<f32> = Pages::zeroed(3);
        assert_eq!(&f[..], &[0.0; 3]);
        assert!(Pages::<u8>::zeroed(0).is_empty());
    }
}
