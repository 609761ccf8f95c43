//! A small fork-join thread pool for the CPU kernels (issue 9, "CPU speed").
//!
//! [`parallel_for`]`(tasks, f)` runs `f(0) .. f(tasks - 1)` on the calling thread and the pool's
//! workers and returns when every task is done. Tasks are claimed one at a time from a shared
//! counter, so a slow or missing worker only means less help: the caller alone can finish any
//! job. The caller never sleeps (it spin-waits for the last tasks), because the browser's main
//! thread may not block (`memory.atomic.wait` traps there); idle workers spin briefly, then
//! sleep (`memory.atomic.wait32` in wasm, a condition variable natively).
//!
//! Where the threads come from:
//! * natively: `std::thread`s started at the first parallel job; the count is [`threads`]
//!   (`MXNET_WEB_THREADS`, else `MATMUL_NUM_THREADS` for compatibility with earlier releases,
//!   else `min(4, available_parallelism)`; [`set_threads`], the CLI's `--threads`);
//! * in the threaded wasm build (`+atomics`, shared memory): Web Workers (or Node.js
//!   `worker_threads`) started by the npm package, each of which calls [`run_worker`] (exported
//!   as `__mxnet_worker_loop`) and never returns; [`set_threads`] caps how many take part;
//! * in the default single-threaded wasm build: none, [`parallel_for`] is a plain loop.
//!
//! One job runs at a time. A second caller (another native thread, or a task that calls
//! `parallel_for` itself) finds the pool busy and runs its tasks serially, so nesting is safe.
//!
//! Panics: natively a panic in a task is caught, the other tasks finish, and the caller
//! re-raises it. In wasm a panic aborts (traps) the thread it happens on; a worker's trap
//! marks the pool as dead ([`worker_died`], called from the panic hook and by the worker's JS
//! when its loop throws), and the caller, instead of waiting forever for the lost task, panics
//! itself (the instance is then replaced by the package's trap containment). This is best
//! effort: a worker that hangs (never returns from a task) still hangs the caller.

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
pub use imp::*;

#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
pub use serial::*;

/// The single-threaded wasm build: no threads, no atomics.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod serial {
    /// The number of threads the CPU kernels split their work into: 1 in this build.
    pub fn threads() -> usize {
        1
    }

    /// Ignored in the single-threaded build.
    pub fn set_threads(_n: usize) {}

    /// Runs `f(0) .. f(tasks - 1)` in order.
    pub fn parallel_for(tasks: usize, f: impl Fn(usize) + Sync) {
        (0..tasks).for_each(f);
    }

    /// Whether this is a pool worker: never in the single-threaded build.
    pub fn is_worker() -> bool {
        false
    }

    /// Nothing to mark in the single-threaded build.
    pub fn worker_died() {}

    /// Called by the panic hook: nothing to do in the single-threaded build.
    pub fn on_panic() {}
}

#[cfg(any(not(target_arch = "wasm32"), target_feature = "atomics"))]
mod imp {
    use std::cell::{Cell, UnsafeCell};
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};

    /// How many times an idle worker polls for a new job before it goes to sleep. A forward
    /// pass alternates parallel kernels with short serial ones (activations, pooling): workers
    /// that are still polling start the next job without a wake-up.
    #[cfg(target_arch = "wasm32")]
    const IDLE_SPINS: u32 = 1 << 16;
    /// The same natively, by time: a spinning worker takes a core from other processes (and
    /// from the caller's serial work when there are fewer cores than threads).
    #[cfg(not(target_arch = "wasm32"))]
    const IDLE_SPIN_TIME: std::time::Duration = std::time::Duration::from_micros(50);

    /// `epoch << 32 | next task index`: a task is claimed by one compare-and-swap that also
    /// checks the job is still the current one (a worker late from an earlier job claims nothing).
    static STATE: AtomicU64 = AtomicU64::new(0);
    /// The current job's epoch, alone, for workers to wait on (a 32-bit wait address in wasm).
    static EPOCH: AtomicU32 = AtomicU32::new(0);
    /// The current job's task count and how many of its tasks have finished.
    static TASKS: AtomicUsize = AtomicUsize::new(0);
    static DONE: AtomicUsize = AtomicUsize::new(0);
    /// Held by the thread whose job is running (others run their tasks serially).
    static BUSY: AtomicBool = AtomicBool::new(false);
    /// Set when a task panicked (natively, caught) or a worker died (wasm).
    static PANICKED: AtomicBool = AtomicBool::new(false);
    static DEAD: AtomicBool = AtomicBool::new(false);
    /// Workers that entered their loop, and how many threads (caller included) may take part.
    static WORKERS: AtomicUsize = AtomicUsize::new(0);
    static LIMIT: AtomicUsize = AtomicUsize::new(0);

    thread_local! {
        /// This thread's worker number (1-based), 0 on other threads.
        static WORKER_ID: Cell<usize> = const { Cell::new(0) };
    }

    /// The current job's closure, type-erased: written by the caller before the job is
    /// published, read by a thread only after it claimed one of the job's tasks (so it is
    /// never read while being rewritten: the next job is published only when every task of
    /// this one is done).
    struct Job(UnsafeCell<Option<JobRef>>);
    // SAFETY: see above; access is ordered by STATE (release on publish, acquire on claim).
    unsafe impl Sync for Job {}
    #[derive(Clone, Copy)]
    struct JobRef {
        data: *const (),
        call: unsafe fn(*const (), usize),
    }
    static JOB: Job = Job(UnsafeCell::new(None));

    /// Calls the job's closure: `data` points at a `&dyn Fn(usize) + Sync` (see `run_job`).
    unsafe fn call_dyn(data: *const (), i: usize) {
        (*(data as *const &(dyn Fn(usize) + Sync)))(i)
    }

    /// The number of threads (the caller included) the CPU kernels split their work into.
    pub fn threads() -> usize {
        let limit = limit();
        if cfg!(target_arch = "wasm32") {
            // Only workers that are running count (their JS may still be starting).
            limit.min(WORKERS.load(Ordering::Relaxed) + 1)
        } else {
            limit
        }
    }

    fn limit() -> usize {
        match LIMIT.load(Ordering::Relaxed) {
            0 => {
                let n = default_threads();
                // A racing set_threads wins.
                let _ = LIMIT.compare_exchange(0, n, Ordering::Relaxed, Ordering::Relaxed);
                LIMIT.load(Ordering::Relaxed)
            }
            n => n,
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn default_threads() -> usize {
        for var in ["MXNET_WEB_THREADS", "MATMUL_NUM_THREADS"] {
            if let Some(n) = std::env::var(var)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
            {
                return n.clamp(1, MAX_THREADS);
            }
        }
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(4)
    }

    #[cfg(target_arch = "wasm32")]
    fn default_threads() -> usize {
        // The package sets the count before it starts workers; until then, all that join.
        MAX_THREADS
    }

    /// The most threads the pool uses.
    pub const MAX_THREADS: usize = 64;

    /// Sets how many threads (the caller included) take part in parallel jobs: 1 to
    /// [`MAX_THREADS`] (clamped). Natively, workers are started when first needed.
    pub fn set_threads(n: usize) {
        LIMIT.store(n.clamp(1, MAX_THREADS), Ordering::Relaxed);
    }

    /// Marks the pool as dead: a worker trapped inside a task (wasm), so that the caller
    /// waiting for it panics instead of spinning forever.
    pub fn worker_died() {
        DEAD.store(true, Ordering::SeqCst);
    }

    /// Called by the panic hook: a panic on a worker thread of the wasm build aborts it (its
    /// task never finishes), so the pool is marked dead for the caller waiting on it.
    pub fn on_panic() {
        if cfg!(target_arch = "wasm32") && is_worker() {
            worker_died();
        }
    }

    /// Whether the current thread is one of the pool's workers.
    pub fn is_worker() -> bool {
        WORKER_ID.with(|id| id.get()) != 0
    }

    /// Runs `f(0) .. f(tasks - 1)`, in parallel on up to [`threads`] threads (the caller
    /// included), and returns when all are done. Tasks must be independent.
    pub fn parallel_for<F: Fn(usize) + Sync>(tasks: usize, f: F) {
        if tasks <= 1 || threads() <= 1 || is_worker() {
            (0..tasks).for_each(f);
            return;
        }
        run_job(tasks, &f);
    }

    /// [`parallel_for`]'s job machinery, not generic: one copy in the threaded wasm module
    /// however many kernels call `parallel_for` (each generic copy cost about 1 KB there).
    fn run_job(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
        if BUSY
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            (0..tasks).for_each(f);
            return;
        }
        #[cfg(not(target_arch = "wasm32"))]
        native::ensure_workers(limit() - 1);
        assert!(
            !DEAD.load(Ordering::SeqCst),
            "mxnet-web: a worker thread of the CPU pool died earlier (see its error)"
        );
        // SAFETY: BUSY is ours and the previous job's tasks are all done, so no thread reads
        // JOB now; `f` outlives the job (we return only when every task is done).
        unsafe {
            *JOB.0.get() = Some(JobRef {
                data: &f as *const &(dyn Fn(usize) + Sync) as *const (),
                call: call_dyn,
            });
        }
        TASKS.store(tasks, Ordering::Relaxed);
        DONE.store(0, Ordering::Relaxed);
        let epoch = EPOCH.load(Ordering::Relaxed).wrapping_add(1);
        STATE.store((epoch as u64) << 32, Ordering::Release);
        EPOCH.store(epoch, Ordering::Release);
        wake_all();
        // Take part, then wait for the tasks others claimed.
        // (A panic in one of our tasks is caught in `work` like a worker's.)
        work(epoch);
        let mut spins = 0u32;
        while DONE.load(Ordering::Acquire) < tasks {
            if DEAD.load(Ordering::SeqCst) {
                // The lost task never finishes; the job's closure must outlive nothing else
                // (a wasm trap ends the dead thread), so give up loudly.
                panic!("mxnet-web: a worker thread of the CPU pool died inside a task");
            }
            spins = spins.wrapping_add(1);
            if spins % 1024 == 0 && cfg!(not(target_arch = "wasm32")) {
                #[cfg(not(target_arch = "wasm32"))]
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        // SAFETY: every task is done: nobody reads JOB until the next publish.
        unsafe { *JOB.0.get() = None };
        let panicked = PANICKED.swap(false, Ordering::AcqRel);
        BUSY.store(false, Ordering::Release);
        if panicked {
            // The task's own message was reported by the panic hook.
            panic!("mxnet-web: a task of the CPU pool panicked");
        }
    }

    /// Claims and runs tasks of job `epoch` until none is left.
    fn work(epoch: u32) {
        let mut state = STATE.load(Ordering::Acquire);
        loop {
            if (state >> 32) as u32 != epoch {
                return;
            }
            let next = (state & 0xffff_ffff) as usize;
            if next >= TASKS.load(Ordering::Relaxed) {
                return;
            }
            match STATE.compare_exchange_weak(state, state + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    // SAFETY: task `next` of the current job is ours: the job cannot end (and
                    // JOB change) before we count it done.
                    let job = unsafe { (*JOB.0.get()).expect("a published job") };
                    let result = std::panic::catch_unwind(|| unsafe { (job.call)(job.data, next) });
                    if result.is_err() {
                        PANICKED.store(true, Ordering::Release);
                    }
                    DONE.fetch_add(1, Ordering::AcqRel);
                    state = STATE.load(Ordering::Acquire);
                }
                Err(now) => state = now,
            }
        }
    }

    /// A worker's loop: waits for jobs and works on them; never returns. In wasm, called by
    /// each Web Worker / worker thread the package starts (`__mxnet_worker_loop`).
    pub fn run_worker() -> ! {
        let id = WORKERS.fetch_add(1, Ordering::AcqRel) + 1;
        WORKER_ID.with(|w| w.set(id));
        let mut seen = EPOCH.load(Ordering::Acquire);
        loop {
            let mut spins = 0;
            #[cfg(not(target_arch = "wasm32"))]
            let idle_since = std::time::Instant::now();
            let epoch = loop {
                let e = EPOCH.load(Ordering::Acquire);
                if e != seen {
                    break e;
                }
                spins += 1;
                // Natively by time (a PAUSE takes 10 to 140 cycles depending on the CPU).
                #[cfg(not(target_arch = "wasm32"))]
                let keep_spinning = spins % 64 != 0 || idle_since.elapsed() < IDLE_SPIN_TIME;
                #[cfg(target_arch = "wasm32")]
                let keep_spinning = spins < IDLE_SPINS;
                if keep_spinning {
                    std::hint::spin_loop();
                } else {
                    sleep_while(seen);
                    spins = 0;
                }
            };
            seen = epoch;
            // Workers beyond the limit sit this job out.
            if id < limit() {
                work(epoch);
            }
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn sleep_while(epoch: u32) {
        // SAFETY: EPOCH is a valid, aligned 32-bit location in shared memory.
        unsafe {
            core::arch::wasm32::memory_atomic_wait32(EPOCH.as_ptr() as *mut i32, epoch as i32, -1);
        }
    }

    #[cfg(target_arch = "wasm32")]
    fn wake_all() {
        // SAFETY: as above.
        unsafe {
            core::arch::wasm32::memory_atomic_notify(EPOCH.as_ptr() as *mut i32, u32::MAX);
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    use native::{sleep_while, wake_all};

    #[cfg(not(target_arch = "wasm32"))]
    mod native {
        use super::{run_worker, EPOCH};
        use std::sync::atomic::Ordering;
        use std::sync::{Condvar, Mutex};

        static SLEEP: Mutex<()> = Mutex::new(());
        static WAKE: Condvar = Condvar::new();
        /// Worker threads started so far.
        static STARTED: Mutex<usize> = Mutex::new(0);

        pub(super) fn sleep_while(epoch: u32) {
            let mut guard = SLEEP.lock().unwrap_or_else(|e| e.into_inner());
            while EPOCH.load(Ordering::Acquire) == epoch {
                guard = WAKE.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }

        pub(super) fn wake_all() {
            // Taking the lock orders this wake-up after a sleeper's check of EPOCH.
            drop(SLEEP.lock().unwrap_or_else(|e| e.into_inner()));
            WAKE.notify_all();
        }

        /// Starts worker threads until there are `n`.
        pub(super) fn ensure_workers(n: usize) {
            let mut started = STARTED.lock().unwrap_or_else(|e| e.into_inner());
            while *started < n {
                let spawned = std::thread::Builder::new()
                    .name(format!("mxnet-web-{}", *started + 1))
                    .spawn(|| run_worker());
                if spawned.is_err() {
                    // Fewer threads: the callers do the rest.
                    break;
                }
                *started += 1;
            }
        }
    }
}

/// A raw pointer that may be shared by the tasks of one [`parallel_for`] job, each of which
/// touches a disjoint part of what it points to.
pub struct SharedMut<T>(pub *mut T);
impl<T> Clone for SharedMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SharedMut<T> {}
// SAFETY: used only for disjoint writes from the tasks of one job (see each use).
unsafe impl<T> Send for SharedMut<T> {}
unsafe impl<T> Sync for SharedMut<T> {}

/// Splits `data` into chunks of `chunk` elements (the last may be shorter) and runs
/// `f(index, chunk)` for each, in parallel.
pub fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    chunk: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let chunk = chunk.max(1);
    let len = data.len();
    let ptr = SharedMut(data.as_mut_ptr());
    parallel_for(len.div_ceil(chunk), |i| {
        let start = i * chunk;
        let n = chunk.min(len - start);
        let p = ptr;
        // SAFETY: chunk i is [start, start + n) of `data`, disjoint from every other task's,
        // and `data` is borrowed mutably for the whole job.
        f(i, unsafe {
            std::slice::from_raw_parts_mut(p.0.add(start), n)
        });
    });
}

/// The pool's settings are global: tests that change them run one at a time.
#[cfg(all(test, not(target_arch = "wasm32")))]
static SETTINGS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Test helper: runs `f` with the thread count set to `n` (other such tests wait), then
/// restores the count.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    let _g = SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
    let before = threads();
    set_threads(n);
    let r = f();
    set_threads(before);
    r
}

/// Test helper: asserts that `run()` gives bit-identical values with the thread count set to 2, 3
/// and 4 as with 1 (the kernels' splits must not change any element's sequence of operations).
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) fn assert_thread_count_invariant(what: &str, run: impl Fn() -> Vec<f32>) {
    let one = with_threads(1, &run);
    for t in [2, 3, 4] {
        let many = with_threads(t, &run);
        assert!(
            one.len() == many.len()
                && one
                    .iter()
                    .zip(&many)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
            "{what}: {t} threads differ from 1"
        );
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    #[test]
    fn every_task_runs_once_on_several_threads() {
        let _g = SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
        set_threads(3);
        assert_eq!(threads(), 3);
        for tasks in [0, 1, 2, 3, 7, 100, 1000] {
            let counts: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
            let ids = Mutex::new(std::collections::HashSet::new());
            parallel_for(tasks, |i| {
                counts[i].fetch_add(1, Ordering::Relaxed);
                ids.lock().unwrap().insert(std::thread::current().id());
                // Enough work per task for the workers to join in.
                std::hint::black_box((0..20_000).map(|x| x as f64).sum::<f64>());
            });
            assert!(
                counts.iter().all(|c| c.load(Ordering::Relaxed) == 1),
                "{tasks} tasks"
            );
            if tasks == 1000 {
                // Several threads took part (the caller alone would be one id).
                let n = ids.lock().unwrap().len();
                assert!((2..=3).contains(&n), "{n} threads ran the tasks");
            }
        }
    }

    #[test]
    fn one_thread_runs_serially_on_the_caller() {
        let _g = SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
        set_threads(1);
        let me = std::thread::current().id();
        let order = Mutex::new(Vec::new());
        parallel_for(50, |i| {
            assert_eq!(std::thread::current().id(), me);
            order.lock().unwrap().push(i);
        });
        assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        set_threads(2);
    }

    #[test]
    fn nested_jobs_and_concurrent_callers_complete() {
        let _g = SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
        set_threads(2);
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..50 {
                        parallel_for(8, |_| {
                            parallel_for(4, |_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            })
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 50 * 8 * 4);
    }

    #[test]
    fn a_panicking_task_reaches_the_caller_and_the_pool_survives() {
        let _g = SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
        set_threads(2);
        for bad in [0, 63] {
            let r = std::panic::catch_unwind(|| {
                parallel_for(64, |i| {
                    std::hint::black_box((0..10_000).map(|x| x as f64).sum::<f64>());
                    if i == bad {
                        panic!("task {i} fails");
                    }
                })
            });
            assert!(r.is_err(), "task {bad}'s panic was lost");
        }
        let n = AtomicUsize::new(0);
        parallel_for(64, |_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 64);
    }

    #[test]
    fn chunks_cover_the_slice_disjointly() {
        let _g = SETTINGS.lock().unwrap_or_else(|e| e.into_inner());
        set_threads(2);
        let mut v = vec![0usize; 1001];
        for_each_chunk_mut(&mut v, 10, |i, c| {
            for (j, x) in c.iter_mut().enumerate() {
                *x += i * 10 + j + 1;
            }
        });
        assert!(v.iter().enumerate().all(|(i, &x)| x == i + 1));
    }
}
