//! [`Choice`]: a closed set of named values (formats, units, loader modes), so a command line
//! or a config file can list, document and parse them without this crate knowing either.

/// A closed set of named values.
pub trait Choice: Sized + Copy + PartialEq + 'static {
    /// Every value: (value, name, other accepted names, one line of description).
    const CHOICES: &'static [(Self, &'static str, &'static [&'static str], &'static str)];

    /// The value's name.
    fn name(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|c| c.0 == self)
            .map(|c| c.1)
            .expect("every value is listed in CHOICES")
    }

    /// Parses a name or another accepted name; the error lists the names.
    fn parse_choice(text: &str) -> Result<Self, String> {
        Self::CHOICES
            .iter()
            .find(|c| c.1 == text || c.2.contains(&text))
            .map(|c| c.0)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::CHOICES.iter().map(|c| c.1).collect();
                format!("`{text}`: expected one of {}", names.join(", "))
            })
    }
}

/// Implements [`std::str::FromStr`] through [`Choice::parse_choice`].
macro_rules! from_str_by_choice {
    ($($t:ty),*) => {$(
        impl std::str::FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <$t as $crate::choice::Choice>::parse_choice(s)
            }
        }
    )*};
}
pub(crate) use from_str_by_choice;

#[cfg(test)]
mod tests {
    use super::Choice;
    use crate::azure2019::Spread;
    use crate::rows::MemUnit;
    use crate::Format;

    #[test]
    fn names_round_trip_and_aliases_parse() {
        for &(v, name, _, _) in Format::CHOICES {
            assert_eq!(name.parse::<Format>(), Ok(v));
            assert_eq!(v.name(), name);
        }
        assert_eq!("poisson".parse::<Spread>(), Ok(Spread::Uniform));
        assert_eq!("kib".parse::<MemUnit>(), Ok(MemUnit::Kib));
        assert_eq!(
            "gz".parse::<Format>(),
            Err("`gz`: expected one of auto, native, azure2019, azure2021, csv, jsonl".into())
        );
    }
}
