//! The server's parameters (ParameterStatus), by name, with a cap on how many.

use std::collections::BTreeMap;
use std::fmt;

use crate::limits::Limits;

/// ParameterStatus values by name: a later value replaces an earlier one. Looking a name up
/// or setting it takes time logarithmic in the number of names, and at most
/// [`Limits::max_parameters`] names are kept, so a flood of them costs linear time and
/// bounded memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parameters {
    values: BTreeMap<String, String>,
    max: usize,
}

impl Default for Parameters {
    /// No parameters, with the default cap.
    fn default() -> Self {
        Self::new(Limits::default().max_parameters)
    }
}

impl Parameters {
    /// No parameters; at most `max` names.
    pub fn new(max: usize) -> Self {
        Self {
            values: BTreeMap::new(),
            max,
        }
    }

    /// The value of `name`, if the server reported it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Records a value. A name not yet kept when the cap is reached is refused (and
    /// nothing changes).
    pub fn set(&mut self, name: String, value: String) -> Result<(), TooManyParameters> {
        if let Some(old) = self.values.get_mut(&name) {
            *old = value;
            return Ok(());
        }
        if self.values.len() >= self.max {
            return Err(TooManyParameters { limit: self.max });
        }
        self.values.insert(name, value);
        Ok(())
    }

    /// Every name and value, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many names are kept.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The server reported more distinct parameters than [`Limits::max_parameters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyParameters {
    /// The cap.
    pub limit: usize,
}

impl fmt::Display for TooManyParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server reported more than {} distinct parameters (ParameterStatus)",
            self.limit
        )
    }
}

impl std::error::Error for TooManyParameters {}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test fails loudly")]
mod tests {
    use super::*;

    #[test]
    fn later_values_replace_and_new_names_stop_at_the_cap() {
        let mut p = Parameters::new(2);
        p.set("b".into(), "1".into()).unwrap();
        p.set("a".into(), "2".into()).unwrap();
        p.set("b".into(), "3".into()).unwrap();
        let err = p.set("c".into(), "4".into()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "server reported more than 2 distinct parameters (ParameterStatus)"
        );
        // A known name still changes at the cap.
        p.set("a".into(), "5".into()).unwrap();
        assert_eq!(p.iter().collect::<Vec<_>>(), [("a", "5"), ("b", "3")]);
        assert_eq!((p.get("c"), p.len()), (None, 2));
    }

    #[test]
    fn a_flood_of_names_is_fast() {
        let mut p = Parameters::new(usize::MAX);
        let start = std::time::Instant::now();
        for i in 0..200_000 {
            p.set(format!("name{i}"), "v".into()).unwrap();
            p.set(format!("name{}", i / 2), "w".into()).unwrap();
        }
        assert_eq!(p.len(), 200_000);
        // Quadratic (a linear scan per name) takes minutes here; this takes well under 1 s
        // even unoptimised on a loaded machine.
        assert!(start.elapsed().as_secs() < 20, "{:?}", start.elapsed());
    }
}
