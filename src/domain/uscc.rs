//! 统一社会信用代码 (unified social credit code), GB 32100-2015.

use super::FieldError;
use crate::error_code::ErrorCode;

/// The 31 characters the code may use (no I, O, S, V, Z), in value order.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of positions 1–17 (3^(i) mod 31).
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// An 18-character code whose check digit is correct.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uscc(String);

fn value(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// The check character for the first 17 characters.
pub fn check_char(first17: &[u8]) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in first17.iter().enumerate() {
        sum += value(*c)? * WEIGHTS[i];
    }
    let check = (31 - sum % 31) % 31;
    Some(ALPHABET[check as usize] as char)
}

/// A valid code for generated data (the demo, tests, benchmarks): `91`, the six-digit
/// `region`, `n` spelled in the code's alphabet (lowest digit first), and the check character.
/// Distinct `n` below 31⁹ give distinct codes.
pub fn synthetic(region: &str, n: u64) -> String {
    let mut body = format!("91{region}");
    let mut x = n;
    for _ in 0..9 {
        body.push(ALPHABET[(x % 31) as usize] as char);
        x /= 31;
    }
    let check = check_char(body.as_bytes()).expect("a region of digits");
    body.push(check);
    body
}

impl Uscc {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_ascii_uppercase();
        let invalid = |msg: &str| FieldError::new("uscc", ErrorCode::UsccInvalid, msg.to_string());
        if s.chars().count() != 18 {
            return Err(invalid("the unified social credit code has 18 characters"));
        }
        let bytes = s.as_bytes();
        if bytes.iter().any(|c| value(*c).is_none()) {
            return Err(invalid(
                "the unified social credit code uses only digits and the letters A–Y without I, O, S, V, Z",
            ));
        }
        if !bytes[2..8].iter().all(u8::is_ascii_digit) {
            return Err(invalid(
                "characters 3–8 of the unified social credit code are the administrative division code (digits)",
            ));
        }
        let expected = check_char(&bytes[..17]).expect("alphabet checked above");
        if bytes[17] as char != expected {
            return Err(invalid(
                "the check digit of the unified social credit code is wrong",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn synthetic_codes_are_valid_and_distinct() {
        let codes: std::collections::HashSet<String> =
            (0..2_000).map(|n| synthetic("330782", n)).collect();
        assert_eq!(codes.len(), 2_000);
        for c in &codes {
            assert_eq!(Uscc::parse(c).unwrap().as_str(), c);
            assert!(c.starts_with("91330782"));
        }
    }

    #[test]
    fn known_codes() {
        assert!(Uscc::parse("91440300708461136T").is_ok());
        assert_eq!(
            Uscc::parse(" 91440300708461136t ").unwrap().as_str(),
            "91440300708461136T"
        );
        for bad in [
            "91440300708461136U",
            "91440300708461136",
            "9144030070846113 T",
            "914403007084611360T",
            "9I440300708461136T",
        ] {
            let e = Uscc::parse(bad).unwrap_err();
            assert_eq!(e.code.as_str(), "uscc_invalid", "{bad}");
            assert_eq!(e.field, "uscc");
        }
    }

    proptest! {
        #[test]
        fn every_single_character_change_is_caught(pos in 0usize..18, replacement in 0usize..31) {
            let good = b"91440300708461136T";
            let mut s = good.to_vec();
            prop_assume!(s[pos] != ALPHABET[replacement]);
            s[pos] = ALPHABET[replacement];
            let changed = String::from_utf8(s).unwrap();
            prop_assert!(Uscc::parse(&changed).is_err(), "{changed}");
        }

        #[test]
        fn generated_codes_round_trip(body in proptest::collection::vec(0usize..31, 9), div in 100000u32..999999) {
            let mut s = format!("91{div}").into_bytes();
            s.extend(body.iter().map(|i| ALPHABET[*i]));
            let c = check_char(&s).unwrap();
            s.push(c as u8);
            let code = String::from_utf8(s).unwrap();
            let parsed = Uscc::parse(&code).unwrap();
            prop_assert_eq!(parsed.as_str(), code.as_str());
        }
    }
}
