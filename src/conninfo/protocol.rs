//! `min_protocol_version` and `max_protocol_version` (libpq 18): the protocol versions a
//! connection may use, checked as libpq 18's `connectOptions2` checks them (right after
//! `load_balance_hosts`, the last of its value checks).

use std::collections::BTreeMap;

use pgcluster_protocol::version::{ProtocolVersion, VersionRange};

use super::ConnInfoError;

/// The range of `opts` (the environment and defaults applied). Each value must be
/// exactly `3.0`, `3.2` or `latest` (an empty one too is refused). Without
/// `min_protocol_version` the lowest is 3.0; without `max_protocol_version` the highest is
/// 3.0 too, unless the lowest is above it: then it is `latest` (libpq 18 keeps 3.0 as the
/// default request so that servers and poolers that do not answer a request for 3.2
/// still work).
pub(super) fn range(opts: &BTreeMap<String, String>) -> Result<VersionRange, ConnInfoError> {
    let parse = |option: &'static str| -> Result<Option<ProtocolVersion>, ConnInfoError> {
        opts.get(option)
            .map(|value| {
                ProtocolVersion::parse(value).ok_or_else(|| ConnInfoError::BadValue {
                    option,
                    value: value.clone(),
                })
            })
            .transpose()
    };
    let min = parse("min_protocol_version")?.unwrap_or(ProtocolVersion::V3_0);
    let max = match parse("max_protocol_version")? {
        Some(max) => max,
        None if min > ProtocolVersion::V3_0 => ProtocolVersion::LATEST,
        None => ProtocolVersion::V3_0,
    };
    VersionRange::new(min, max).ok_or(ConnInfoError::ProtocolRange)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::{V3_0, V3_2};

    fn of(pairs: &[(&str, &str)]) -> Result<VersionRange, String> {
        let opts = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        range(&opts).map_err(|e| e.to_string())
    }

    fn r(min: ProtocolVersion, max: ProtocolVersion) -> Result<VersionRange, String> {
        VersionRange::new(min, max).ok_or_else(String::new)
    }

    /// Defaults and texts as psql 18.6 shows them.
    #[test]
    fn libpq_18_defaults_values_and_texts() {
        assert_eq!(of(&[]), r(V3_0, V3_0));
        assert_eq!(of(&[("max_protocol_version", "3.2")]), r(V3_0, V3_2));
        assert_eq!(of(&[("max_protocol_version", "latest")]), r(V3_0, V3_2));
        assert_eq!(of(&[("min_protocol_version", "3.2")]), r(V3_2, V3_2));
        assert_eq!(of(&[("min_protocol_version", "latest")]), r(V3_2, V3_2));
        assert_eq!(of(&[("min_protocol_version", "3.0")]), r(V3_0, V3_0));
        for (min, max) in [("3.2", "3.0"), ("latest", "3.0")] {
            assert_eq!(
                of(&[("min_protocol_version", min), ("max_protocol_version", max)]),
                Err("\"min_protocol_version\" is greater than \"max_protocol_version\"".to_owned())
            );
        }
        for bad in ["", "3.1", "3", "3.00", " 3.2", "LATEST", "4.0"] {
            assert_eq!(
                of(&[("min_protocol_version", bad)]),
                Err(format!("invalid min_protocol_version value: \"{bad}\""))
            );
            assert_eq!(
                of(&[("max_protocol_version", bad)]),
                Err(format!("invalid max_protocol_version value: \"{bad}\""))
            );
        }
        // The lowest is checked first.
        assert_eq!(
            of(&[
                ("min_protocol_version", "foo"),
                ("max_protocol_version", "bar")
            ]),
            Err("invalid min_protocol_version value: \"foo\"".to_owned())
        );
    }

    /// Through `Config::resolve`: the environment variables, and libpq 18's order of checks
    /// (these two come after the other value checks).
    #[test]
    fn environment_and_order_of_checks() {
        use crate::conninfo::{Config, Env};
        let resolve = |conninfo: &str, env: &Env| {
            Config::parse(conninfo)
                .unwrap()
                .resolve(&env.clone().with_os_user("u").with_home("/nonexistent"))
                .map(|r| r.protocol)
                .map_err(|e| e.to_string())
        };
        let env = Env::empty().with("PGMAXPROTOCOLVERSION", "latest");
        assert_eq!(resolve("host=/tmp", &env), r(V3_0, V3_2));
        let env = Env::empty().with("PGMINPROTOCOLVERSION", "3.2");
        assert_eq!(resolve("host=/tmp", &env), r(V3_2, V3_2));
        // A keyword wins over its variable.
        assert_eq!(
            resolve("host=/tmp min_protocol_version=3.0", &env),
            r(V3_0, V3_0)
        );
        for (var, text) in [
            (
                "PGMINPROTOCOLVERSION",
                "invalid min_protocol_version value: \"x\"",
            ),
            (
                "PGMAXPROTOCOLVERSION",
                "invalid max_protocol_version value: \"x\"",
            ),
        ] {
            assert_eq!(
                resolve("host=/tmp", &Env::empty().with(var, "x")),
                Err(text.to_owned())
            );
        }
        let env = Env::empty().with("PGMAXPROTOCOLVERSION", "3.0");
        assert_eq!(
            resolve("host=/tmp min_protocol_version=3.2", &env),
            Err("\"min_protocol_version\" is greater than \"max_protocol_version\"".to_owned())
        );
        // As psql 18.6: other bad values are reported first.
        for (other, text) in [
            ("gssencmode=bad", "invalid gssencmode value: \"bad\""),
            (
                "target_session_attrs=bad",
                "invalid target_session_attrs value: \"bad\"",
            ),
            ("sslmode=bad", "invalid sslmode value: \"bad\""),
            (
                "load_balance_hosts=bad",
                "invalid load_balance_hosts value: \"bad\"",
            ),
        ] {
            assert_eq!(
                resolve(
                    &format!("host=/tmp min_protocol_version=foo {other}"),
                    &Env::empty()
                ),
                Err(text.to_owned())
            );
        }
    }
}
