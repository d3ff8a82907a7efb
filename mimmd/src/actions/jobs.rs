//! Jobs: ordered steps run as child processes, one step at a time, never
//! blocking the loop. A step is an executable hook (pre- and post-handoff
//! functions) or a shell command (bring an interface up or down). The loop
//! wakes on a pidfd when a step exits; a step that outlives the timeout is
//! killed with everything it started (each step leads its own process
//! group, so a hung `sh -c 'udhcpc ...'` does not leave its children
//! behind) and fails its job.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use mimm_io::clock::Nanos;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// The interface's pre-handoff functions (answers the MM's Prepare).
    Prepare,
    /// Its post-handoff functions, after traffic moved.
    PostHandoff,
    /// Bring it up (answers Activate).
    Activate,
    /// Take it down.
    Deactivate,
}

impl JobKind {
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Prepare => "pre-handoff",
            JobKind::PostHandoff => "post-handoff",
            JobKind::Activate => "activate",
            JobKind::Deactivate => "deactivate",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An executable, run with the job's environment.
    Exec(PathBuf),
    /// A shell command line.
    Shell(String),
}

/// A finished job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub iface: usize,
    pub kind: JobKind,
    pub ok: bool,
    /// What failed, for the log.
    pub detail: String,
}

struct Running {
    child: Child,
    pidfd: OwnedFd,
    deadline: Nanos,
}

impl Running {
    /// Kills the step and whatever it started, and reaps it.
    fn kill(&mut self) {
        let pgid = rustix::process::Pid::from_raw(self.child.id() as i32);
        if let Some(pgid) = pgid {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Job {
    iface: usize,
    kind: JobKind,
    steps: Vec<Step>,
    next: usize,
    env: Vec<(String, String)>,
    running: Option<Running>,
}

pub struct Jobs {
    slots: Vec<Option<Job>>,
    timeout: Nanos,
}

impl Jobs {
    pub fn new(timeout: Nanos) -> Jobs {
        Jobs {
            slots: Vec::new(),
            timeout,
        }
    }

    /// Queues a job and starts its first step. Returns the slot (and its
    /// pidfd, for the loop to watch), or the job's result when it finished at
    /// once (no steps, or the first step could not start).
    pub fn start(
        &mut self,
        iface: usize,
        kind: JobKind,
        steps: Vec<Step>,
        env: Vec<(String, String)>,
        now: Nanos,
    ) -> Result<(usize, RawFd), Done> {
        let mut job = Job {
            iface,
            kind,
            steps,
            next: 0,
            env,
            running: None,
        };
        if let Some(done) = self.advance(&mut job, now) {
            return Err(done);
        }
        let slot = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        let fd = job
            .running
            .as_ref()
            .map(|r| r.pidfd.as_raw_fd())
            .expect("started");
        self.slots[slot] = Some(job);
        Ok((slot, fd))
    }

    /// Starts the job's next step; `Some` when the job is over.
    fn advance(&self, job: &mut Job, now: Nanos) -> Option<Done> {
        let Some(step) = job.steps.get(job.next).cloned() else {
            return Some(Done {
                iface: job.iface,
                kind: job.kind,
                ok: true,
                detail: String::new(),
            });
        };
        job.next += 1;
        let mut cmd = match &step {
            Step::Exec(path) => Command::new(path),
            Step::Shell(line) => {
                let mut c = Command::new("/bin/sh");
                c.args(["-c", line]);
                c
            }
        };
        cmd.envs(job.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .process_group(0);
        let started = cmd.spawn().and_then(|child| {
            let pid = rustix::process::Pid::from_raw(child.id() as i32)
                .ok_or(io::ErrorKind::InvalidInput)?;
            let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
            Ok(Running {
                child,
                pidfd,
                deadline: now.saturating_add(self.timeout),
            })
        });
        match started {
            Ok(running) => {
                job.running = Some(running);
                None
            }
            Err(e) => Some(Done {
                iface: job.iface,
                kind: job.kind,
                ok: false,
                detail: format!("{step:?}: cannot start: {e}"),
            }),
        }
    }

    /// The step in `slot` may have exited (its pidfd is readable). Returns the
    /// job's result when it is over, and the next step's pidfd when one started.
    pub fn on_exit(&mut self, slot: usize, now: Nanos) -> (Option<Done>, Option<RawFd>) {
        let Some(mut job) = self.slots.get_mut(slot).and_then(Option::take) else {
            return (None, None);
        };
        let Some(running) = job.running.as_mut() else {
            return (None, None);
        };
        let status = match running.child.try_wait() {
            Ok(Some(status)) => status,
            Ok(None) => {
                self.slots[slot] = Some(job);
                return (None, None);
            }
            Err(e) => {
                return (
                    Some(Done {
                        iface: job.iface,
                        kind: job.kind,
                        ok: false,
                        detail: format!("wait: {e}"),
                    }),
                    None,
                );
            }
        };
        let step = job.steps[job.next - 1].clone();
        job.running = None;
        if !status.success() {
            return (
                Some(Done {
                    iface: job.iface,
                    kind: job.kind,
                    ok: false,
                    detail: format!("{step:?} {status}"),
                }),
                None,
            );
        }
        match self.advance(&mut job, now) {
            Some(done) => (Some(done), None),
            None => {
                let fd = job.running.as_ref().map(|r| r.pidfd.as_raw_fd());
                self.slots[slot] = Some(job);
                (None, fd)
            }
        }
    }

    /// Kills steps past their deadline; their jobs fail.
    pub fn expire(&mut self, now: Nanos) -> Vec<Done> {
        let mut done = Vec::new();
        for slot in &mut self.slots {
            let late = slot
                .as_ref()
                .and_then(|j| j.running.as_ref())
                .is_some_and(|r| now >= r.deadline);
            if late {
                let mut job = slot.take().expect("checked");
                if let Some(mut r) = job.running.take() {
                    r.kill();
                }
                done.push(Done {
                    iface: job.iface,
                    kind: job.kind,
                    ok: false,
                    detail: format!("{:?} timed out", job.steps[job.next - 1]),
                });
            }
        }
        done
    }

    pub fn deadline(&self) -> Option<Nanos> {
        self.slots
            .iter()
            .flatten()
            .filter_map(|j| j.running.as_ref().map(|r| r.deadline))
            .min()
    }

    /// Whether a job of `kind` is under way for `iface`.
    pub fn busy(&self, iface: usize, kind: JobKind) -> bool {
        self.slots
            .iter()
            .flatten()
            .any(|j| j.iface == iface && j.kind == kind)
    }
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in self.slots.iter_mut().flatten() {
            if let Some(r) = job.running.as_mut() {
                r.kill();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed when the test ends (also on panic).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("mimm-jobs-{}-{name}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Gone, or a zombie nobody reaped yet: either way no longer running.
    fn running(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
    }

    #[test]
    fn steps_run_in_order_with_the_environment_and_stop_at_a_failure() {
        let dir = Scratch::new("order");
        let log = dir.0.join("log");
        let step = |s: &str| Step::Shell(format!("{s} >> {}", log.display()));
        let mut jobs = Jobs::new(Nanos::from_ms(5_000));
        let env = vec![("MIMM_TO".to_string(), "wan".to_string())];
        let steps = vec![
            step("echo one $MIMM_TO"),
            Step::Shell("exit 3".into()),
            step("echo three"),
        ];
        let (slot, mut fd) = jobs
            .start(0, JobKind::Prepare, steps, env, Nanos(0))
            .unwrap();
        let done = loop {
            let mut fds = [rustix::event::PollFd::from_borrowed_fd(
                unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) },
                rustix::event::PollFlags::IN,
            )];
            rustix::event::poll(&mut fds, None).unwrap();
            match jobs.on_exit(slot, Nanos(0)) {
                (Some(done), _) => break done,
                (None, Some(next)) => fd = next,
                (None, None) => {}
            }
        };
        assert!(!done.ok);
        assert!(done.detail.contains("exit 3"), "{}", done.detail);
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "one wan\n");
        assert!(!jobs.busy(0, JobKind::Prepare));
    }

    #[test]
    fn a_step_past_its_deadline_is_killed_with_its_children() {
        let dir = Scratch::new("kill");
        let pidfile = dir.0.join("pid");
        let mut jobs = Jobs::new(Nanos::from_ms(100));
        let line = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        jobs.start(
            1,
            JobKind::Activate,
            vec![Step::Shell(line)],
            Vec::new(),
            Nanos(0),
        )
        .unwrap();
        let pid = loop {
            if let Some(pid) = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                break pid;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        assert!(running(pid));
        assert_eq!(jobs.deadline(), Some(Nanos::from_ms(100)));
        assert!(jobs.expire(Nanos::from_ms(99)).is_empty());
        let done = jobs.expire(Nanos::from_ms(100));
        assert_eq!(done.len(), 1);
        assert!(!done[0].ok && done[0].detail.contains("timed out"));
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(!running(pid), "the hook's child {pid} outlived it");
    }
}
