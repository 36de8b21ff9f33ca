//! `pgcluster list`: a table for people, JSON for scripts.

use pgcluster::cluster::DatabaseInfo;

use crate::escape_controls;

fn size(info: &DatabaseInfo) -> String {
    info.size.map_or_else(|| "-".to_owned(), |s| s.to_string())
}

/// An aligned table; control characters in names are escaped (a name may hold a newline).
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
            escape_controls(&d.name),
            escape_controls(&d.owner),
            d.encoding.clone(),
            escape_controls(&d.collate),
            escape_controls(&d.ctype),
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
    let mut widths = [0usize; 9];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON array of objects, one per database.
pub(crate) fn json(databases: &[DatabaseInfo]) -> String {
    let items: Vec<String> = databases
        .iter()
        .map(|d| {
            format!(
                "{{\"name\":{},\"owner\":{},\"encoding\":{},\"collate\":{},\"ctype\":{},\"size\":{},\"is_template\":{},\"allow_connections\":{},\"connection_limit\":{},\"is_valid\":{}}}",
                json_string(&d.name),
                json_string(&d.owner),
                json_string(&d.encoding),
                json_string(&d.collate),
                json_string(&d.ctype),
                d.size.map_or_else(|| "null".to_owned(), |s| s.to_string()),
                d.is_template,
                d.allow_connections,
                d.connection_limit,
                d.is_valid
            )
        })
        .collect();
    format!("[{}]\n", items.join(","))
}
