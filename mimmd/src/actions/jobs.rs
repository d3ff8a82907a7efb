//! Jobs: ordered steps run as child processes, one step at a time, never
//! blocking the loop. A step is an executable hook (pre- and post-handoff
//! functions) or a shell command (bring an interface up or down). The loop
//! wakes on a pidfd when a step exits; a step that outlives the timeout is
//! killed and fails its job.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
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
            .stdin(Stdio::null());
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
                    let _ = r.child.kill();
                    let _ = r.child.wait();
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
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
        }
    }
}
