//! Money is i64 minor units (fen). Display uses ¥ with 万 (10⁴) and 亿 (10⁸) units.

/// Formats fen as yuan with the Chinese large-number units used in reports:
/// `¥1.23亿`, `¥4,567.89万`, `¥999.00`. Rounds half away from zero at the shown precision.
pub fn format_cny(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs() as u128; // fen, cannot overflow
    const WAN: u128 = 10_000 * 100;
    const YI: u128 = 100_000_000 * 100;
    let (scaled, unit) = if abs >= WAN {
        let wan = round_div(abs * 100, WAN);
        // 9,999.999万 rounds to 10,000.00万, which reads as ¥1.00亿.
        if wan >= 10_000 * 100 {
            (round_div(abs * 100, YI), "亿")
        } else {
            (wan, "万")
        }
    } else {
        (abs, "")
    };
    format!("{sign}¥{}.{:02}{unit}", group(scaled / 100), scaled % 100)
}

/// Formats fen as plain yuan with two decimals and thousands separators: `¥12,345.67`.
pub fn format_cny_plain(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", group((abs / 100) as u128), abs % 100)
}

fn round_div(n: u128, d: u128) -> u128 {
    (n + d / 2) / d
}

fn group(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Sums amounts, failing instead of wrapping.
pub fn checked_sum(amounts: impl IntoIterator<Item = i64>) -> Option<i64> {
    amounts
        .into_iter()
        .try_fold(0i64, |acc, a| acc.checked_add(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(format_cny(12_300_000_000), "¥1.23亿");
        assert_eq!(format_cny(4_567_890_000), "¥4,567.89万");
        assert_eq!(format_cny(99_900), "¥999.00");
        assert_eq!(format_cny(1), "¥0.01");
        assert_eq!(format_cny(0), "¥0.00");
        assert_eq!(format_cny(-1_000_000), "-¥1.00万");
        assert_eq!(format_cny(10_000_000_000), "¥1.00亿");
        assert_eq!(
            format_cny(9_999_999_999),
            "¥1.00亿",
            "rounding up crosses into 亿"
        );
        assert_eq!(format_cny(9_999_940_000), "¥9,999.94万");
        assert_eq!(format_cny(i64::MIN), "-¥922,337,203.69亿");
        assert_eq!(format_cny_plain(1_234_567), "¥12,345.67");
    }

    #[test]
    fn sums_do_not_wrap() {
        assert_eq!(checked_sum([1, 2, 3]), Some(6));
        assert_eq!(checked_sum([i64::MAX, 1]), None);
    }
}
