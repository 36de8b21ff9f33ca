//! `load_balance_hosts` (libpq 16): whether the host list, and each host's addresses, are
//! tried in a random order.

use std::fmt;

/// `load_balance_hosts` (default `disable`).
///
/// ```
/// use pgcluster::conninfo::{Config, Env, LoadBalanceHosts};
/// let r = Config::parse("host=a,b,c load_balance_hosts=random user=u")
///     .unwrap()
///     .resolve(&Env::empty())
///     .unwrap();
/// assert_eq!(r.load_balance_hosts, LoadBalanceHosts::Random);
/// let e = Config::parse("load_balance_hosts=yes user=u")
///     .unwrap()
///     .resolve(&Env::empty())
///     .unwrap_err();
/// assert_eq!(e.to_string(), "invalid load_balance_hosts value: \"yes\"");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LoadBalanceHosts {
    /// The hosts in the order given, each host's addresses in the resolver's order.
    #[default]
    Disable,
    /// The host list shuffled once per connection attempt, and each host's addresses
    /// shuffled when it is looked up.
    Random,
}

impl LoadBalanceHosts {
    /// The value for `text` (exact spelling), if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "disable" => Some(Self::Disable),
            "random" => Some(Self::Random),
            _ => None,
        }
    }

    /// The keyword value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Random => "random",
        }
    }
}

impl fmt::Display for LoadBalanceHosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
