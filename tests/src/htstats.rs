//! `DEBUG HTSTATS 0` as Redis 7.0 prints it, read back into numbers, so
//! that stage 9's checks can look at a server's hash table from outside.
//!
//! ```text
//! [Dictionary HT]
//! Hash table 0 stats (main hash table):
//!  table size: 4
//!  number of elements: 1
//!  different slots: 1
//!  max chain length: 1
//!  avg chain length (counted): 1.00
//!  avg chain length (computed): 1.00
//!  Chain length distribution:
//!    0: 3 (75.00%)
//!    1: 1 (25.00%)
//! [Expires HT]
//! Hash table 0 stats (main hash table):
//! No stats available for empty dictionaries
//! ```
//!
//! While a table is being rehashed, a second block follows the first,
//! `Hash table 1 stats (rehashing target):`. The reader is strict about
//! every line (a missing or misspelt one is named, with its number), and
//! [`Table::inconsistency`] says which figures do not add up.

use std::fmt::Write as _;

/// One bucket array: its size, and how its keys spread over its slots.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub size: u64,
    pub elements: u64,
    /// Slots holding at least one key.
    pub slots: u64,
    pub max_chain: u64,
    pub average_counted: f64,
    pub average_computed: f64,
    /// `(chain length, slots with a chain that long, percent of the table)`,
    /// for the lengths that occur, shortest first.
    pub chains: Vec<(u64, u64, f64)>,
}

/// One dictionary: its main table, and while it is being rehashed the
/// table its keys move to. `main` is `None` when the dictionary is empty
/// ("No stats available for empty dictionaries").
#[derive(Clone, Debug, PartialEq)]
pub struct Dictionary {
    pub main: Option<Table>,
    pub target: Option<Table>,
}

impl Dictionary {
    /// The keys in both tables.
    pub fn elements(&self) -> u64 {
        self.main.as_ref().map_or(0, |t| t.elements)
            + self.target.as_ref().map_or(0, |t| t.elements)
    }

    pub fn rehashing(&self) -> bool {
        self.target.is_some()
    }

    /// The main table's size, 0 when the dictionary is empty.
    pub fn size(&self) -> u64 {
        self.main.as_ref().map_or(0, |t| t.size)
    }
}

/// What `DEBUG HTSTATS 0` says about a database: the keys, and the keys
/// that have an expiry time.
#[derive(Clone, Debug, PartialEq)]
pub struct HtStats {
    pub keys: Dictionary,
    pub expires: Dictionary,
}

/// Where the text differs from what Redis prints: the line (from 1), what
/// was due there, and what was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub expected: String,
    pub found: String,
}

const EMPTY: &str = "No stats available for empty dictionaries";

struct Lines<'a> {
    lines: Vec<&'a str>,
    next: usize,
}

impl<'a> Lines<'a> {
    fn error(&self, expected: impl Into<String>) -> ParseError {
        ParseError {
            line: self.next + 1,
            expected: expected.into(),
            found: match self.lines.get(self.next) {
                Some(line) => format!("{line:?}"),
                None => "the end of the text".to_string(),
            },
        }
    }

    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.next).copied()
    }

    fn exact(&mut self, line: &str) -> Result<(), ParseError> {
        if self.peek() != Some(line) {
            return Err(self.error(format!("{line:?}")));
        }
        self.next += 1;
        Ok(())
    }

    /// ` <label>: <value>`, the value as text.
    fn field(&mut self, label: &str) -> Result<&'a str, ParseError> {
        let prefix = format!(" {label}: ");
        match self.peek().and_then(|line| line.strip_prefix(&prefix)) {
            Some(value) => {
                self.next += 1;
                Ok(value)
            }
            None => Err(self.error(format!("\"{prefix}<number>\""))),
        }
    }

    fn number(&mut self, label: &str) -> Result<u64, ParseError> {
        let at = self.next;
        let text = self.field(label)?;
        parse_count(text).ok_or_else(|| {
            self.next = at;
            self.error(format!("\" {label}: <whole number>\""))
        })
    }

    fn decimal(&mut self, label: &str) -> Result<f64, ParseError> {
        let at = self.next;
        let text = self.field(label)?;
        parse_two_decimals(text).ok_or_else(|| {
            self.next = at;
            self.error(format!(
                "\" {label}: <number with two decimals, e.g. 1.25>\""
            ))
        })
    }
}

/// A whole number as C's `%lu` prints it: digits, no sign, no leading zero.
fn parse_count(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if canonical { text.parse().ok() } else { None }
}

/// A number as C's `%.02f` prints it: digits, a point, two digits.
fn parse_two_decimals(text: &str) -> Option<f64> {
    let (whole, fraction) = text.split_once('.')?;
    if parse_count(whole).is_none()
        || fraction.len() != 2
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    text.parse().ok()
}

/// Reads `DEBUG HTSTATS 0`'s text.
pub fn parse(text: &[u8]) -> Result<HtStats, ParseError> {
    let text = std::str::from_utf8(text).map_err(|error| ParseError {
        line: 1 + text[..error.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
        expected: "text".to_string(),
        found: "bytes that are not UTF-8".to_string(),
    })?;
    let Some(body) = text.strip_suffix('\n') else {
        return Err(ParseError {
            line: text.lines().count().max(1),
            expected: "every line to end with \\n, the last one too".to_string(),
            found: "a last line without \\n".to_string(),
        });
    };
    let mut lines = Lines {
        lines: body.split('\n').collect(),
        next: 0,
    };
    lines.exact("[Dictionary HT]")?;
    let keys = dictionary(&mut lines, "[Expires HT]")?;
    lines.exact("[Expires HT]")?;
    let expires = dictionary(&mut lines, "")?;
    if lines.peek().is_some() {
        return Err(lines.error("the end of the text"));
    }
    Ok(HtStats { keys, expires })
}

fn dictionary(lines: &mut Lines, next_section: &str) -> Result<Dictionary, ParseError> {
    lines.exact("Hash table 0 stats (main hash table):")?;
    let main = table(lines)?;
    let target = if lines.peek() == Some("Hash table 1 stats (rehashing target):") {
        lines.next += 1;
        Some(table(lines)?.ok_or_else(|| {
            lines.next -= 1;
            lines.error("the rehashing target's figures: it holds keys")
        })?)
    } else {
        if !next_section.is_empty() && lines.peek() != Some(next_section) {
            return Err(lines.error(format!(
                "\"Hash table 1 stats (rehashing target):\" or {next_section:?}"
            )));
        }
        None
    };
    Ok(Dictionary { main, target })
}

/// One table's block after its header: `None` for an empty dictionary.
fn table(lines: &mut Lines) -> Result<Option<Table>, ParseError> {
    if lines.peek() == Some(EMPTY) {
        lines.next += 1;
        return Ok(None);
    }
    if lines.peek().is_some_and(|line| !line.starts_with(' ')) {
        return Err(lines.error(format!("\" table size: <number>\" or {EMPTY:?}")));
    }
    let size = lines.number("table size")?;
    let elements = lines.number("number of elements")?;
    let slots = lines.number("different slots")?;
    let max_chain = lines.number("max chain length")?;
    let average_counted = lines.decimal("avg chain length (counted)")?;
    let average_computed = lines.decimal("avg chain length (computed)")?;
    lines.exact(" Chain length distribution:")?;
    let mut chains = Vec::new();
    while let Some(line) = lines.peek() {
        let Some(entry) = line.strip_prefix("   ") else {
            break;
        };
        let parsed = entry.split_once(": ").and_then(|(length, rest)| {
            let (count, percent) = rest.split_once(" (")?;
            let percent = parse_two_decimals(percent.strip_suffix("%)")?)?;
            Some((parse_count(length)?, parse_count(count)?, percent))
        });
        match parsed {
            Some(chain) => chains.push(chain),
            None => {
                return Err(lines.error(
                    "\"   <chain length>: <slots> (<percent>%)\", e.g. \"   1: 5 (62.50%)\"",
                ));
            }
        }
        lines.next += 1;
    }
    Ok(Some(Table {
        size,
        elements,
        slots,
        max_chain,
        average_counted,
        average_computed,
        chains,
    }))
}

/// `value` as C's `%.02f` prints it, give or take the last digit's rounding.
fn about(printed: f64, value: f64) -> bool {
    (printed - value).abs() <= 0.0051
}

impl Table {
    /// The first figure that does not add up with the others, in words;
    /// `None` when they all agree, as they do in a real table.
    pub fn inconsistency(&self) -> Option<String> {
        let Table {
            size,
            elements,
            slots,
            max_chain,
            ..
        } = *self;
        if !size.is_power_of_two() {
            return Some(format!("the table size {size} is not a power of two"));
        }
        if elements == 0 || slots == 0 {
            return Some(format!(
                "a table with {elements} elements in {slots} slots is printed as \"{EMPTY}\""
            ));
        }
        let mut previous = None;
        for &(length, count, _) in &self.chains {
            if count == 0 {
                return Some(format!(
                    "the distribution lists chains of length {length} in 0 slots: Redis lists only the lengths that occur"
                ));
            }
            if previous.is_some_and(|p| p >= length) {
                return Some(format!(
                    "the distribution's lengths are not in increasing order ({length} after {})",
                    previous.unwrap_or_default()
                ));
            }
            previous = Some(length);
        }
        let counted: u64 = self.chains.iter().map(|&(_, count, _)| count).sum();
        if counted != size {
            return Some(format!(
                "the distribution counts {counted} slots in a table of {size}"
            ));
        }
        let held: u64 = self
            .chains
            .iter()
            .map(|&(length, count, _)| length * count)
            .sum();
        if held != elements {
            return Some(format!(
                "the distribution's chains hold {held} keys, but the table says {elements} elements"
            ));
        }
        let empty = self
            .chains
            .iter()
            .find(|&&(length, _, _)| length == 0)
            .map_or(0, |&(_, count, _)| count);
        if slots != size - empty {
            return Some(format!(
                "{slots} different slots, but the distribution has {} slots that are not empty",
                size - empty
            ));
        }
        let longest = self.chains.last().map_or(0, |&(length, _, _)| length);
        if max_chain != longest {
            return Some(format!(
                "the max chain length is {max_chain}, but the distribution's longest chain is {longest}"
            ));
        }
        let average = elements as f64 / slots as f64;
        for (label, printed) in [
            ("counted", self.average_counted),
            ("computed", self.average_computed),
        ] {
            if !about(printed, average) {
                return Some(format!(
                    "the avg chain length ({label}) is {printed:.2}, but {elements} elements in \
                     {slots} slots make {average:.2}"
                ));
            }
        }
        for &(length, count, percent) in &self.chains {
            let share = count as f64 / size as f64 * 100.0;
            if !about(percent, share) {
                return Some(format!(
                    "chains of length {length}: {count} slots of {size} are {share:.2}%, not {percent:.2}%"
                ));
            }
        }
        None
    }
}

/// The text Redis prints for `table` (with its header line).
pub fn render_table(index: u8, table: &Table) -> String {
    let mut out = String::new();
    let role = if index == 0 {
        "main hash table"
    } else {
        "rehashing target"
    };
    let _ = write!(
        out,
        "Hash table {index} stats ({role}):\n table size: {}\n number of elements: {}\n \
         different slots: {}\n max chain length: {}\n avg chain length (counted): {:.2}\n \
         avg chain length (computed): {:.2}\n Chain length distribution:\n",
        table.size,
        table.elements,
        table.slots,
        table.max_chain,
        table.average_counted,
        table.average_computed
    );
    for &(length, count, percent) in &table.chains {
        let _ = writeln!(out, "   {length}: {count} ({percent:.2}%)");
    }
    out
}

/// What Redis prints for a table of `size` slots holding one key.
pub fn one_key(size: u64) -> Table {
    let percent = |count: u64| count as f64 / size as f64 * 100.0;
    Table {
        size,
        elements: 1,
        slots: 1,
        max_chain: 1,
        average_counted: 1.0,
        average_computed: 1.0,
        chains: vec![(0, size - 1, percent(size - 1)), (1, 1, percent(1))],
    }
}

/// The text for a database with no keys.
pub const EMPTY_DATABASE: &str = "[Dictionary HT]\nHash table 0 stats (main hash table):\n\
    No stats available for empty dictionaries\n[Expires HT]\nHash table 0 stats (main hash table):\n\
    No stats available for empty dictionaries\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// What redis-server 7.0.15 printed for five keys, one being rehashed.
    const REHASHING: &str = "[Dictionary HT]\nHash table 0 stats (main hash table):\n table size: 4\n number of elements: 3\n different slots: 2\n max chain length: 2\n avg chain length (counted): 1.50\n avg chain length (computed): 1.50\n Chain length distribution:\n   0: 2 (50.00%)\n   1: 1 (25.00%)\n   2: 1 (25.00%)\nHash table 1 stats (rehashing target):\n table size: 8\n number of elements: 2\n different slots: 2\n max chain length: 1\n avg chain length (counted): 1.00\n avg chain length (computed): 1.00\n Chain length distribution:\n   0: 6 (75.00%)\n   1: 2 (25.00%)\n[Expires HT]\nHash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n";

    /// 1,000 keys, from redis-server 7.0.15.
    const THOUSAND: &str = "[Dictionary HT]\nHash table 0 stats (main hash table):\n table size: 1024\n number of elements: 1000\n different slots: 639\n max chain length: 6\n avg chain length (counted): 1.56\n avg chain length (computed): 1.56\n Chain length distribution:\n   0: 385 (37.60%)\n   1: 382 (37.30%)\n   2: 179 (17.48%)\n   3: 62 (6.05%)\n   4: 8 (0.78%)\n   5: 6 (0.59%)\n   6: 2 (0.20%)\n[Expires HT]\nHash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n";

    #[test]
    fn reads_what_redis_prints() {
        let stats = parse(REHASHING.as_bytes()).unwrap();
        assert!(stats.keys.rehashing());
        assert_eq!(stats.keys.elements(), 5);
        assert_eq!(stats.keys.size(), 4);
        assert_eq!(stats.keys.target.as_ref().unwrap().size, 8);
        assert_eq!(stats.expires.main, None);
        for table in [&stats.keys.main, &stats.keys.target] {
            assert_eq!(table.as_ref().unwrap().inconsistency(), None);
        }
        let stats = parse(THOUSAND.as_bytes()).unwrap();
        let main = stats.keys.main.unwrap();
        assert_eq!(main.inconsistency(), None);
        assert_eq!(main.chains.len(), 7);
        let empty = parse(EMPTY_DATABASE.as_bytes()).unwrap();
        assert_eq!(empty.keys.elements(), 0);
        assert!(!empty.keys.rehashing());
    }

    #[test]
    fn renders_what_it_reads() {
        let stats = parse(REHASHING.as_bytes()).unwrap();
        let text = format!(
            "[Dictionary HT]\n{}{}[Expires HT]\nHash table 0 stats (main hash table):\n{EMPTY}\n",
            render_table(0, stats.keys.main.as_ref().unwrap()),
            render_table(1, stats.keys.target.as_ref().unwrap())
        );
        assert_eq!(text, REHASHING);
        assert_eq!(
            render_table(0, &one_key(4)),
            "Hash table 0 stats (main hash table):\n table size: 4\n number of elements: 1\n different slots: 1\n max chain length: 1\n avg chain length (counted): 1.00\n avg chain length (computed): 1.00\n Chain length distribution:\n   0: 3 (75.00%)\n   1: 1 (25.00%)\n"
        );
    }

    #[test]
    fn names_the_line_that_is_wrong() {
        let broken = REHASHING.replace(" different slots: 2\n max", " different slots 2\n max");
        let error = parse(broken.as_bytes()).unwrap_err();
        assert_eq!(error.line, 5);
        assert_eq!(error.found, "\" different slots 2\"");
        assert!(error.expected.contains("different slots: "), "{error:?}");

        let error = parse(b"OK\n").unwrap_err();
        assert_eq!(
            (error.line, error.expected.as_str()),
            (1, "\"[Dictionary HT]\"")
        );

        let missing = THOUSAND.replace("[Expires HT]\nHash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n", "");
        let error = parse(missing.as_bytes()).unwrap_err();
        assert_eq!(error.found, "the end of the text");

        let no_newline = EMPTY_DATABASE.trim_end();
        assert!(parse(no_newline.as_bytes()).is_err());
        let percent = THOUSAND.replace("(37.60%)", "(37.6%)");
        assert_eq!(parse(percent.as_bytes()).unwrap_err().line, 10);
    }

    #[test]
    fn finds_figures_that_do_not_add_up() {
        let good = parse(THOUSAND.as_bytes()).unwrap().keys.main.unwrap();
        let mut wrong = good.clone();
        wrong.elements = 999;
        assert!(wrong.inconsistency().unwrap().contains("hold 1000 keys"));
        let mut wrong = good.clone();
        wrong.size = 1000;
        assert!(wrong.inconsistency().unwrap().contains("power of two"));
        let mut wrong = good.clone();
        wrong.slots = 640;
        assert!(wrong.inconsistency().unwrap().contains("different slots"));
        let mut wrong = good.clone();
        wrong.max_chain = 5;
        assert!(wrong.inconsistency().unwrap().contains("max chain length"));
        let mut wrong = good.clone();
        wrong.chains[1].2 = 38.30;
        assert!(wrong.inconsistency().unwrap().contains("37.30%"));
        let mut wrong = good;
        wrong.average_counted = 1.0;
        assert!(wrong.inconsistency().unwrap().contains("counted"));
    }
}
