package seed

import "math/rand/v2"

// surnames are weighted roughly by how common they are in Nan'an and Quanzhou,
// where 陈, 黄 and 林 lead and 蔡, 洪, 傅, 潘, 苏, 庄 are far more frequent than
// in China as a whole. The weights are relative, not percentages.
var surnames = []struct {
	name   string
	weight int
}{
	{"陈", 120}, {"黄", 80}, {"林", 75}, {"李", 50}, {"王", 45},
	{"吴", 40}, {"蔡", 38}, {"洪", 35}, {"傅", 30}, {"潘", 28},
	{"苏", 28}, {"郑", 26}, {"张", 26}, {"许", 24}, {"刘", 22},
	{"杨", 20}, {"庄", 20}, {"叶", 18}, {"戴", 16}, {"周", 16},
	{"施", 14}, {"萧", 12}, {"柯", 12}, {"詹", 10}, {"谢", 10},
	{"侯", 9}, {"卓", 9}, {"曾", 9}, {"吕", 8}, {"颜", 8},
	{"郭", 8}, {"高", 7}, {"方", 7}, {"余", 6}, {"沈", 6},
	{"姚", 6}, {"梁", 6}, {"赖", 5}, {"翁", 5}, {"徐", 5},
	{"朱", 5}, {"何", 5}, {"康", 5}, {"骆", 4}, {"彭", 4},
	{"邱", 4}, {"游", 4}, {"尤", 3}, {"龚", 3}, {"粘", 2},
}

// surnameTotal is the sum of the surname weights.
var surnameTotal = func() int {
	n := 0
	for _, s := range surnames {
		n += s.weight
	}
	return n
}()

// maleGiven and femaleGiven are characters used in given names; the two lists
// share no character, so a name's sex can be told from its given name in tests.
var maleGiven = []rune(
	"伟强军勇杰涛斌明辉建志国海峰鹏华平东文荣" +
		"金水福德忠良清源泉锦鸿宏俊毅彬龙振兴锋超" +
		"凯航宇浩博晨旭阳昌进财发顺添耀炳坤煌培贤" +
		"庆祥成铭哲胜森瑞")

var femaleGiven = []rune(
	"丽娟燕霞芳玲红萍梅秀珍英莲琴凤兰艳婷琳雪" +
		"慧敏静颖洁淑惠丹妮娜倩雅欣怡佳蓉薇莹晶璐" +
		"瑶菲月春桂碧素美爱香云彩虹翠玉青宁婉思诗" +
		"茹菁露晓")

// singleGivenPercent is the share of given names with one character; the rest have two.
const singleGivenPercent = 12

// Name returns a synthetic Chinese full name for a person of the given sex, drawn from r.
func Name(r *rand.Rand, male bool) string {
	pick := r.IntN(surnameTotal)
	surname := surnames[len(surnames)-1].name
	for _, s := range surnames {
		if pick < s.weight {
			surname = s.name
			break
		}
		pick -= s.weight
	}

	chars := femaleGiven
	if male {
		chars = maleGiven
	}
	first := chars[r.IntN(len(chars))]
	if r.IntN(100) < singleGivenPercent {
		return surname + string(first)
	}
	second := chars[r.IntN(len(chars)-1)]
	if second == first {
		// Skip the first character so the two are never the same.
		second = chars[len(chars)-1]
	}
	return surname + string(first) + string(second)
}
