//! The last minutes of samples, for LuCI's live chart: each sample period,
//! every interface's averaged metric and which one was primary. Bounded, so
//! a router's memory never grows with uptime.

use std::collections::VecDeque;

use crate::control::proto::{ChartPoint, RecentSamples};

/// Sample periods kept: 10 minutes at the default 1 s.
pub(super) const RECENT_SAMPLES: usize = 600;

#[derive(Default)]
pub(super) struct Recent {
    interfaces: Vec<String>,
    points: VecDeque<ChartPoint>,
}

impl Recent {
    /// One sample period; a different set of interfaces (a reload changed
    /// them) starts the ring afresh.
    pub fn push(&mut self, interfaces: &[&str], point: ChartPoint) {
        if self
            .interfaces
            .iter()
            .map(String::as_str)
            .ne(interfaces.iter().copied())
        {
            self.interfaces = interfaces.iter().map(|s| s.to_string()).collect();
            self.points.clear();
        }
        if self.points.len() == RECENT_SAMPLES {
            self.points.pop_front();
        }
        self.points.push_back(point);
    }

    pub fn snapshot(&self) -> RecentSamples {
        RecentSamples {
            interfaces: self.interfaces.clone(),
            points: self.points.iter().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t_s: f64) -> ChartPoint {
        ChartPoint {
            t_s,
            primary: Some(0),
            average: vec![Some(t_s)],
        }
    }

    #[test]
    fn keeps_the_last_periods_and_starts_afresh_on_new_interfaces() {
        let mut r = Recent::default();
        for t in 0..RECENT_SAMPLES + 5 {
            r.push(&["wan"], point(t as f64));
        }
        let s = r.snapshot();
        assert_eq!(s.points.len(), RECENT_SAMPLES);
        assert_eq!(s.points[0].t_s, 5.0);
        assert_eq!(s.interfaces, ["wan"]);
        r.push(&["wan", "lte"], point(1.0));
        assert_eq!(r.snapshot().points.len(), 1);
    }
}
