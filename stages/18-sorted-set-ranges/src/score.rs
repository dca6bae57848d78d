//! Scores as Redis 7.0 reads them (C's `strtod`, with `string2d`'s checks)
//! and writes them (`%.17g`: 17 significant digits, enough to read back the
//! same double). Chapter 17 has the rules.

#[cfg(test)]
mod tests;

// ANCHOR: parse_score
/// A score, or `None` where Redis answers `value is not a valid float`.
pub fn parse_score(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    // Rust reads what strtod reads (but for hexadecimal, a shortcut), and
    // like Redis refuses spaces around it; but where strtod reports an
    // overflow or underflow, Rust quietly gives infinity or zero.
    let score: f64 = text.parse().ok()?;
    let unsigned = text.trim_start_matches(['+', '-']);
    let spelled_infinite = unsigned.starts_with(['i', 'I']);
    let mantissa = unsigned.split(['e', 'E']).next().unwrap_or_default();
    let nonzero = mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b));
    let overflow = score.is_infinite() && !spelled_infinite;
    let underflow = score == 0.0 && nonzero;
    (!score.is_nan() && !overflow && !underflow).then_some(score)
}
// ANCHOR_END: parse_score

// ANCHOR: format_score
/// A score as `%.17g` prints it, and infinities as Redis names them.
pub fn format_score(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // 17 significant digits in scientific form: `d.dddddddddddddddde±x`.
    let scientific = format!("{score:.16e}");
    let (digits, exponent) = scientific.split_once('e').unwrap_or_default();
    let exponent: i32 = exponent.parse().unwrap_or_default();
    // %g: plain notation for exponents from -4 to 16, else scientific.
    if (-4..17).contains(&exponent) {
        let decimals = (16 - exponent) as usize;
        trim_zeros(format!("{score:.decimals$}"))
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        let digits = trim_zeros(digits.to_string());
        format!("{digits}e{sign}{:02}", exponent.abs())
    }
}

/// Drops the zeros at the end of a fraction, and then a bare `.`.
fn trim_zeros(mut number: String) -> String {
    if number.contains('.') {
        number.truncate(number.trim_end_matches('0').trim_end_matches('.').len());
    }
    number
}
// ANCHOR_END: format_score

// ANCHOR: parse_bound
/// One end of a range of scores, and whether a `(` before it excludes it;
/// `None` where Redis answers `min or max is not a float`. Redis's
/// `zslParseRange` reads it with plain `strtod`, without `string2d`'s
/// checks: so unlike a score, spaces before it, an overflow (read as an
/// infinity) and the empty string (read as 0) are allowed; only NaN, and
/// what is not read whole, are not.
pub fn parse_bound(text: &[u8]) -> Option<(f64, bool)> {
    let (text, excluded) = match text.strip_prefix(b"(") {
        Some(rest) => (rest, true),
        None => (text, false),
    };
    if text.is_empty() {
        return Some((0.0, excluded));
    }
    // C's `isspace`, which strtod skips.
    let spaces = [' ', '\t', '\n', '\x0b', '\x0c', '\r'];
    let text = std::str::from_utf8(text).ok()?.trim_start_matches(spaces);
    let bound: f64 = text.parse().ok()?;
    (!bound.is_nan()).then_some((bound, excluded))
}
// ANCHOR_END: parse_bound
