//! The characters a nick may not hold because they draw nothing: with one
//! of them, "bob" and "bob" can be two people. Not a list of the ones we
//! know of, but Unicode's own classes, as ranges derived from the Unicode
//! 14.0 data: the `Default_Ignorable_Code_Point` property (from
//! `DerivedCoreProperties.txt`: what a font shows as nothing) and the
//! general categories Cc (controls), Cf (format), Zs (spaces), Zl and Zp
//! (line and paragraph separators). Then one addition that no property
//! names: U+2800, the blank Braille pattern, a symbol drawn as an empty
//! cell. (Unassigned code points are not here: that table would be 700
//! ranges long, and would change with every version of Unicode.)

/// First and last code point of each range, sorted, not touching. The
/// comment says which classes the range comes from ("ignorable" is
/// `Default_Ignorable_Code_Point`).
const INVISIBLE: &[(u32, u32)] = &[
    (0x0000, 0x0020),   // Cc, Zs: the C0 controls, space
    (0x007F, 0x00A0),   // Cc, Zs: delete, the C1 controls, no-break space
    (0x00AD, 0x00AD),   // Cf, ignorable: soft hyphen
    (0x034F, 0x034F),   // ignorable: combining grapheme joiner
    (0x0600, 0x0605),   // Cf: Arabic number signs
    (0x061C, 0x061C),   // Cf, ignorable: Arabic letter mark
    (0x06DD, 0x06DD),   // Cf: Arabic end of ayah
    (0x070F, 0x070F),   // Cf: Syriac abbreviation mark
    (0x0890, 0x0891),   // Cf: Arabic pound and piastre marks above
    (0x08E2, 0x08E2),   // Cf: Arabic disputed end of ayah
    (0x115F, 0x1160),   // ignorable: Hangul fillers
    (0x1680, 0x1680),   // Zs: Ogham space mark
    (0x17B4, 0x17B5),   // ignorable: Khmer inherent vowels
    (0x180B, 0x180F),   // Cf, ignorable: Mongolian variation selectors, vowel separator
    (0x2000, 0x200F),   // Zs, Cf, ignorable: spaces, zero-width space and joiners, marks
    (0x2028, 0x202F),   // Zl, Zp, Cf, Zs: separators, direction embeddings, narrow space
    (0x205F, 0x206F),   // Zs, Cf, ignorable: math space, word joiner, invisible operators
    (0x2800, 0x2800),   // (neither, but blank): Braille pattern blank
    (0x3000, 0x3000),   // Zs: ideographic space
    (0x3164, 0x3164),   // ignorable: Hangul filler
    (0xFE00, 0xFE0F),   // ignorable: variation selectors 1 to 16
    (0xFEFF, 0xFEFF),   // Cf, ignorable: zero-width no-break space (byte-order mark)
    (0xFFA0, 0xFFA0),   // ignorable: halfwidth Hangul filler
    (0xFFF0, 0xFFFB),   // ignorable, Cf: reserved, interlinear annotation marks
    (0x110BD, 0x110BD), // Cf: Kaithi number sign
    (0x110CD, 0x110CD), // Cf: Kaithi number sign above
    (0x13430, 0x13438), // Cf: Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3), // Cf, ignorable: shorthand format controls
    (0x1D173, 0x1D17A), // Cf, ignorable: musical beams, ties, slurs, phrases
    (0xE0000, 0xE0FFF), // Cf, ignorable: tags, variation selectors 17 to 256, reserved
];

/// Whether `char` draws nothing (or only space) on screen.
pub fn is_invisible(char: char) -> bool {
    let code = u32::from(char);
    INVISIBLE
        .binary_search_by(|&(first, last)| {
            if last < code {
                std::cmp::Ordering::Less
            } else if first > code {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests;
