//! Wall time per step of a request, for the log: where a slow request
//! spent its time, without a profiler.

use std::sync::Mutex;
use std::time::Instant;

/// Steps of one request and how long each took.
#[derive(Debug)]
pub struct Stages {
    inner: Mutex<(Instant, Vec<(&'static str, f64)>)>,
}

impl Default for Stages {
    fn default() -> Self {
        Stages { inner: Mutex::new((Instant::now(), Vec::new())) }
    }
}

impl Stages {
    /// Ends the step `name` (it began where the previous one ended).
    pub fn mark(&self, name: &'static str) {
        if let Ok(mut g) = self.inner.lock() {
            let now = Instant::now();
            let secs = now.duration_since(g.0).as_secs_f64();
            g.0 = now;
            g.1.push((name, secs));
        }
    }

    /// Each step and its seconds, in order.
    pub fn steps(&self) -> Vec<(&'static str, f64)> {
        self.inner.lock().map(|g| g.1.clone()).unwrap_or_default()
    }

    /// `step 0.012 s, step 1.200 s, …`
    pub fn summary(&self) -> String {
        match self.inner.lock() {
            Ok(g) => g.1.iter().map(|(n, s)| format!("{n} {s:.3} s")).collect::<Vec<_>>().join(", "),
            Err(_) => String::new(),
        }
    }
}
