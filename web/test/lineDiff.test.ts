import { describe, expect, it } from 'vitest'
import { diffCounts, lineDiff, splitLines, type DiffLine } from '../src/lib/lineDiff'

const show = (d: DiffLine[]) => d.map((l) => `${l.kind === 'same' ? ' ' : l.kind === 'del' ? '-' : '+'}${l.text}`)

// rebuild reads each side back out of a diff.
function rebuild(d: DiffLine[]): { a: string[]; b: string[] } {
  return { a: d.filter((l) => l.kind !== 'add').map((l) => l.text), b: d.filter((l) => l.kind !== 'del').map((l) => l.text) }
}

function lcsLength(x: string[], y: string[]): number {
  const t = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0))
  for (let i = 1; i <= x.length; i++)
    for (let j = 1; j <= y.length; j++) t[i]![j] = x[i - 1] === y[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!)
  return t[x.length]![y.length]!
}

describe('lineDiff', () => {
  it('keeps equal texts as they are', () => {
    const d = lineDiff('一\n二\n三', '一\n二\n三')
    expect(show(d)).toEqual([' 一', ' 二', ' 三'])
    expect(diffCounts(d)).toEqual({ added: 0, removed: 0 })
    expect(lineDiff('', '')).toEqual([])
  })

  it('adds everything to an empty text and removes everything from one', () => {
    expect(show(lineDiff('', 'a\nb'))).toEqual(['+a', '+b'])
    expect(show(lineDiff('a\nb', ''))).toEqual(['-a', '-b'])
  })

  it('shows a changed line as removed then added, with line numbers on each side', () => {
    const d = lineDiff('## 参保对象\n年满16周岁\n缴费档次', '## 参保对象\n年满16周岁的居民\n缴费档次\n新增一行')
    expect(show(d)).toEqual([' ## 参保对象', '-年满16周岁', '+年满16周岁的居民', ' 缴费档次', '+新增一行'])
    expect(d[1]).toEqual({ kind: 'del', text: '年满16周岁', a: 2 })
    expect(d[2]).toEqual({ kind: 'add', text: '年满16周岁的居民', b: 2 })
    expect(d[3]).toEqual({ kind: 'same', text: '缴费档次', a: 3, b: 3 })
    expect(d[4]).toEqual({ kind: 'add', text: '新增一行', b: 4 })
    expect(diffCounts(d)).toEqual({ added: 2, removed: 1 })
  })

  it('finds lines moved around common ones', () => {
    expect(show(lineDiff('a\nb\nc\nd', 'b\nc\na\nd'))).toEqual(['-a', ' b', ' c', '+a', ' d'])
    expect(show(lineDiff('x\na\ny', 'a'))).toEqual(['-x', ' a', '-y'])
  })

  it('treats \\r\\n as \\n and keeps blank lines', () => {
    expect(splitLines('a\r\n\r\nb\n')).toEqual(['a', '', 'b', ''])
    expect(show(lineDiff('a\r\n\r\nb', 'a\n\nb'))).toEqual([' a', ' ', ' b'])
  })

  it('falls back to removed-then-added past the table limit, still a correct diff', () => {
    const d = lineDiff('h\na\nb\nt', 'h\nc\nd\nt', 3)
    expect(show(d)).toEqual([' h', '-a', '-b', '+c', '+d', ' t'])
  })

  it('is a longest-common-subsequence diff that rebuilds both sides (random texts)', () => {
    let seed = 7
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed % n
    }
    for (let round = 0; round < 300; round++) {
      const gen = () => Array.from({ length: rand(9) }, () => 'abc'[rand(3)]!)
      const x = gen()
      const y = gen()
      const d = lineDiff(x.join('\n'), y.join('\n'))
      const r = rebuild(d)
      // An empty text has no lines; a text of one empty line is not produced here (no '').
      expect(r.a).toEqual(x)
      expect(r.b).toEqual(y)
      expect(d.filter((l) => l.kind === 'same').length).toBe(lcsLength(x, y))
    }
  })
})
