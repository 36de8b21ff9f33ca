//! Harnesses for the targets whose code lives outside `pgcluster-protocol` (which has its
//! own in `pgcluster_protocol::fuzzing`).
#![forbid(unsafe_code)]

use pgcluster::compat::rex::DbSetting;
use pgcluster::conninfo::Config;

/// Arbitrary text to both connection-string parsers: never a panic, and each parser
/// gives the same answer twice (no hidden state).
pub fn conninfo(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let config = Config::parse(&text);
    assert_eq!(config, Config::parse(&text));
    if let Ok(config) = &config {
        let _ = format!("{config:?}");
    }
    let setting = DbSetting::parse(&text);
    assert_eq!(setting, DbSetting::parse(&text));
    if let Ok(setting) = &setting {
        let _ = format!("{setting:?}");
    }
}
