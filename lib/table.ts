/** A plain-text table with aligned columns: the first row is the header.  Gate, bench and node failures use it. */
export function formatTable(rows: string[][]): string {
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
