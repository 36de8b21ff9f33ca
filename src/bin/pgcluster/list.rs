//! `pgcluster list`: a table for people, JSON for scripts.

use pgcluster::cluster::DatabaseInfo;

use crate::escape;
use crate::json::Json;

/// The size as psql's `\\l+` shows it (`pg_size_pretty`), `-` when unknown.
fn size(info: &DatabaseInfo) -> String {
    info.size.map_or_else(|| "-".to_owned(), pretty_size)
}

/// PostgreSQL's `pg_size_pretty` (15 and later, `src/backend/utils/adt/dbsize.c`): bytes
/// below 10240, then kB, MB, GB, TB and PB, each up to 20479 of it, rounded half away from
/// up; the units are powers of 1024.
pub(crate) fn pretty_size(bytes: u64) -> String {
    // (name, limit, rounded, unit bits)
    const UNITS: [(&str, u64, bool, u8); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let mut size = bytes;
    for (i, &(name, limit, round, bits)) in UNITS.iter().enumerate() {
        let next = UNITS.get(i + 1);
        if next.is_none() || size < limit {
            if round {
                // half_rounded: (size + 1) / 2, without overflow.
                size = size / 2 + size % 2;
            }
            return format!("{size} {name}");
        }
        if let Some(&(_, _, next_round, next_bits)) = next {
            let shift = next_bits - bits - u8::from(next_round) + u8::from(round);
            size >>= shift;
        }
    }
    unreachable!("the last unit is always taken")
}

/// An aligned table, one line per database. Every text column (name, owner, encoding,
/// collate, ctype) is escaped as a cell (a name may hold a newline, a tab, a terminal escape
/// or a bidi override; the server chooses the others), and columns are aligned by terminal
/// width (wide characters take two columns, combining marks none).
pub(crate) fn table(databases: &[DatabaseInfo]) -> String {
    let header = [
        "name",
        "owner",
        "encoding",
        "collate",
        "ctype",
        "size",
        "template",
        "connections",
        "limit",
    ];
    let mut rows: Vec<[String; 9]> = vec![header.map(str::to_owned)];
    for d in databases {
        rows.push([
            escape::cell(&d.name),
            escape::cell(&d.owner),
            escape::cell(&d.encoding),
            escape::cell(&d.collate),
            escape::cell(&d.ctype),
            size(d),
            d.is_template.to_string(),
            if d.is_valid {
                d.allow_connections.to_string()
            } else {
                "invalid".to_owned()
            },
            d.connection_limit.to_string(),
        ]);
    }
    layout(&rows)
}

/// Lays out `rows` (escaped cells) in columns two spaces apart, each as wide as its widest
/// cell in terminal columns; the last column is not padded.
fn layout<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(escape::width(cell));
        }
    }
    let mut out = String::new();
    for row in rows {
        let Some((last, init)) = row.split_last() else {
            continue;
        };
        for (cell, w) in init.iter().zip(widths) {
            out.push_str(&escape::pad(cell, w));
            out.push_str("  ");
        }
        // No padding after the last column.
        out.push_str(last);
        out.push('\n');
    }
    out
}

/// A JSON array of objects, one per database (sizes in bytes).
pub(crate) fn json(databases: &[DatabaseInfo]) -> String {
    let items: Vec<Json> = databases
        .iter()
        .map(|d| {
            Json::object([
                ("name", d.name.as_str().into()),
                ("owner", d.owner.as_str().into()),
                ("encoding", d.encoding.as_str().into()),
                ("collate", d.collate.as_str().into()),
                ("ctype", d.ctype.as_str().into()),
                ("size", d.size.into()),
                ("is_template", d.is_template.into()),
                ("allow_connections", d.allow_connections.into()),
                ("connection_limit", d.connection_limit.into()),
                ("is_valid", d.is_valid.into()),
            ])
        })
        .collect();
    format!("{}\n", Json::Array(items).render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_pg_size_pretty_shows_them() {
        // SELECT pg_size_pretty(n::bigint) on PostgreSQL 15.
        let rows = [
            (0, "0 bytes"),
            (10239, "10239 bytes"),
            (10240, "10 kB"),
            (10751, "10 kB"),
            (10752, "11 kB"),
            (7_753_219, "7572 kB"),
            (20_970_495, "20 MB"),
            (i64::MAX as u64, "8192 PB"),
            (20_970_496, "20 MB"),
            (1_073_741_824, "1024 MB"),
            (21_474_836_480, "20 GB"),
            (u64::MAX, "16384 PB"),
        ];
        for (bytes, shown) in rows {
            assert_eq!(pretty_size(bytes), shown, "{bytes}");
        }
    }

    fn row(cells: [&str; 3]) -> [String; 3] {
        cells.map(escape::cell)
    }

    #[test]
    fn one_line_per_row_aligned_by_terminal_columns() {
        let rows = [
            row(["name", "owner", "encoding"]),
            row(["数据库", "x", "UTF8"]),
            row(["e\u{301}t\u{e9}", "ｆｕｌｌ", "UTF8"]),
            row(["production\nevil", "a\tb", "\u{1b}[2J"]),
            row(["\u{202e}txt.exe", "\u{9b}0m", "SQL_ASCII"]),
        ];
        assert_eq!(
            layout(&rows),
            "name              owner     encoding\n\
             数据库            x         UTF8\n\
             e\u{301}t\u{e9}               ｆｕｌｌ  UTF8\n\
             production\\nevil  a\\tb      \\u{1b}[2J\n\
             \\u{202e}txt.exe   \\u{9b}0m  SQL_ASCII\n"
        );
    }
}
