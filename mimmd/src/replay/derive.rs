//! A configuration derived from a trace when none is given: one interface per
//! trace `iface`, its kind from the trace, metric `signal_dbm` where the trace
//! has signal for it, else `rate_kbps`, else probe quality; built-in defaults.

use mimm_mm::{Config, IfaceConfig, LinkKind, Metric};
use mimm_trace::Trace;

pub fn derive_config(trace: &Trace) -> Config {
    let ifaces = trace
        .ifaces()
        .into_iter()
        .map(|name| {
            let rows = || trace.rows_of(name);
            let kind = rows()
                .find_map(|r| r.kind.as_deref())
                .map_or(LinkKind::Other, LinkKind::parse);
            let metric = if rows().any(|r| r.signal_dbm.is_some()) {
                Metric::SignalDbm
            } else if rows().any(|r| r.rate_kbps.is_some()) {
                Metric::RateKbps
            } else if rows().any(|r| r.rtt_ms.is_some() || r.loss_pct.is_some()) {
                Metric::Quality
            } else {
                Metric::SignalDbm
            };
            IfaceConfig::with_defaults(name, kind, metric)
        })
        .collect();
    Config::new(ifaces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_follows_what_the_trace_has() {
        let trace = Trace::parse(
            "t_ms,iface,kind,signal_dbm,rate_kbps,rtt_ms\n0,cell,lte,,1000,\n0,wifi,wifi,-60,,\n0,x,,,,30\n1,cell,5g,-90,,\n",
        )
        .unwrap();
        let cfg = derive_config(&trace);
        let got: Vec<(&str, LinkKind, Metric)> = cfg
            .ifaces
            .iter()
            .map(|i| (i.name.as_str(), i.kind, i.metric))
            .collect();
        assert_eq!(
            got,
            [
                ("cell", LinkKind::Lte, Metric::SignalDbm),
                ("wifi", LinkKind::Wifi, Metric::SignalDbm),
                ("x", LinkKind::Other, Metric::Quality),
            ]
        );
    }
}
