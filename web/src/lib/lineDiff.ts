// A line diff of two texts (an explainer's saved version and the draft in the editor): the
// longest common subsequence of their lines, then the lines only in the first (del) and only in
// the second (add) around it. Line ends \r\n count as \n. Pure, no DOM.

export type DiffKind = 'same' | 'del' | 'add'

export interface DiffLine {
  kind: DiffKind
  text: string
  a?: number // line number in the first text (1-based), for same and del
  b?: number // line number in the second text, for same and add
}

// MAX_CELLS bounds the LCS table: beyond it (thousands of changed lines on both sides) the
// changed middle is shown as all removed, then all added, which is still a correct diff.
export const MAX_CELLS = 4_000_000

export function splitLines(s: string): string[] {
  if (s === '') return []
  return s.replace(/\r\n/g, '\n').split('\n')
}

// lineDiff lists the lines of a and b in order: common lines once (same), the others as del
// (only in a) or add (only in b); within a change, removed lines come before added ones.
export function lineDiff(a: string, b: string, maxCells = MAX_CELLS): DiffLine[] {
  const x = splitLines(a)
  const y = splitLines(b)
  let start = 0
  while (start < x.length && start < y.length && x[start] === y[start]) start++
  let endX = x.length
  let endY = y.length
  while (endX > start && endY > start && x[endX - 1] === y[endY - 1]) {
    endX--
    endY--
  }
  const out: DiffLine[] = []
  for (let i = 0; i < start; i++) out.push({ kind: 'same', text: x[i]!, a: i + 1, b: i + 1 })
  const n = endX - start
  const m = endY - start
  if (n > 0 && m > 0 && (n + 1) * (m + 1) <= maxCells) {
    // lcs[i][j]: LCS length of x[start+i..endX) and y[start+j..endY), row-major.
    const w = m + 1
    const lcs = new Uint32Array((n + 1) * w)
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        lcs[i * w + j] =
          x[start + i] === y[start + j] ? lcs[(i + 1) * w + j + 1]! + 1 : Math.max(lcs[(i + 1) * w + j]!, lcs[i * w + j + 1]!)
      }
    }
    let i = 0
    let j = 0
    const dels: DiffLine[] = []
    const adds: DiffLine[] = []
    const flush = () => {
      out.push(...dels, ...adds)
      dels.length = 0
      adds.length = 0
    }
    while (i < n || j < m) {
      if (i < n && j < m && x[start + i] === y[start + j]) {
        flush()
        out.push({ kind: 'same', text: x[start + i]!, a: start + i + 1, b: start + j + 1 })
        i++
        j++
      } else if (j >= m || (i < n && lcs[(i + 1) * w + j]! >= lcs[i * w + j + 1]!)) {
        dels.push({ kind: 'del', text: x[start + i]!, a: start + i + 1 })
        i++
      } else {
        adds.push({ kind: 'add', text: y[start + j]!, b: start + j + 1 })
        j++
      }
    }
    flush()
  } else {
    for (let i = start; i < endX; i++) out.push({ kind: 'del', text: x[i]!, a: i + 1 })
    for (let j = start; j < endY; j++) out.push({ kind: 'add', text: y[j]!, b: j + 1 })
  }
  for (let k = 0; k < x.length - endX; k++) out.push({ kind: 'same', text: x[endX + k]!, a: endX + k + 1, b: endY + k + 1 })
  return out
}

// diffCounts counts the removed and added lines of a diff.
export function diffCounts(d: DiffLine[]): { added: number; removed: number } {
  let added = 0
  let removed = 0
  for (const l of d) {
    if (l.kind === 'add') added++
    else if (l.kind === 'del') removed++
  }
  return { added, removed }
}
