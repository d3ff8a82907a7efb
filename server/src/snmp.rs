//! SNMP traps (v1 and v2c, parsed by the snmp-parser crate) turned into
//! network alarms. A trap is identified by its trap OID: v2c carries it in
//! the `snmpTrapOID.0` varbind; for v1 it is derived as RFC 3584 says
//! (generic traps 0..5 → 1.3.6.1.6.3.1.1.5.(n+1); enterprise-specific →
//! ENTERPRISE.0.SPECIFIC). The community must be one the configuration
//! lists. Each `config alarm` section maps a trap OID, and optionally one
//! varbind's value (e.g. ifIndex 17: which cell), to a network, a reason
//! and an expiry.

use snmp_parser::{ObjectSyntax, SnmpGenericMessage, SnmpMessage, SnmpPdu, VarBindValue};

const SNMP_TRAP_OID: &str = "1.3.6.1.6.3.1.1.4.1.0";
const GENERIC_TRAPS: &str = "1.3.6.1.6.3.1.1.5";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// 1 or 2 (v2c).
    pub version: u8,
    pub community: String,
    pub trap_oid: String,
    /// (OID, value as text) of every varbind.
    pub vars: Vec<(String, String)>,
}

/// What a trap means, from `config alarm`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmRule {
    pub name: String,
    pub trap_oid: String,
    /// Only when this varbind has this value.
    pub match_var: Option<(String, String)>,
    pub network: String,
    pub reason: String,
    pub expiry_s: i32,
}

fn value_text(v: &VarBindValue) -> String {
    match v {
        VarBindValue::Value(ObjectSyntax::Number(n)) => n.to_string(),
        VarBindValue::Value(ObjectSyntax::String(s)) => String::from_utf8_lossy(s).into_owned(),
        VarBindValue::Value(ObjectSyntax::Object(o)) => o.to_id_string(),
        VarBindValue::Value(ObjectSyntax::IpAddress(snmp_parser::NetworkAddress::IPv4(a))) => {
            a.to_string()
        }
        VarBindValue::Value(ObjectSyntax::Counter32(n))
        | VarBindValue::Value(ObjectSyntax::Gauge32(n))
        | VarBindValue::Value(ObjectSyntax::TimeTicks(n))
        | VarBindValue::Value(ObjectSyntax::UInteger32(n)) => n.to_string(),
        VarBindValue::Value(ObjectSyntax::Counter64(n)) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn from_message(version: u8, m: SnmpMessage) -> Result<Trap, String> {
    let vars: Vec<(String, String)> = m
        .vars_iter()
        .map(|v| (v.oid.to_id_string(), value_text(&v.val)))
        .collect();
    let trap_oid = match &m.pdu {
        SnmpPdu::TrapV1(t) => {
            let generic = u32::from(t.generic_trap.0);
            if generic < 6 {
                format!("{GENERIC_TRAPS}.{}", generic + 1)
            } else {
                format!("{}.0.{}", t.enterprise.to_id_string(), t.specific_trap)
            }
        }
        SnmpPdu::Generic(g) if g.pdu_type == snmp_parser::PduType::TrapV2 => vars
            .iter()
            .find(|(oid, _)| oid == SNMP_TRAP_OID)
            .map(|(_, v)| v.clone())
            .ok_or("a v2c trap without snmpTrapOID.0")?,
        other => return Err(format!("not a trap: {:?}", other.pdu_type())),
    };
    Ok(Trap {
        version,
        community: m.community,
        trap_oid,
        vars,
    })
}

/// The trap in a datagram (v1 or v2c); anything else is an error.
pub fn parse(bytes: &[u8]) -> Result<Trap, String> {
    match snmp_parser::parse_snmp_generic_message(bytes) {
        Ok((_, SnmpGenericMessage::V1(m))) => from_message(1, m),
        Ok((_, SnmpGenericMessage::V2(m))) => from_message(2, m),
        Ok((_, SnmpGenericMessage::V3(_))) => Err("SNMPv3 traps are not supported".into()),
        Err(e) => Err(format!("not SNMP: {e:?}")),
    }
}

/// The rules a trap fires.
pub fn matching<'r>(trap: &Trap, rules: &'r [AlarmRule]) -> Vec<&'r AlarmRule> {
    rules
        .iter()
        .filter(|r| r.trap_oid == trap.trap_oid)
        .filter(|r| {
            r.match_var
                .as_ref()
                .is_none_or(|(oid, value)| trap.vars.iter().any(|(o, v)| o == oid && v == value))
        })
        .collect()
}
