package errs

import (
	"fmt"
	"slices"
)

//go:generate go run ./errsdoc -out ../../../docs/ERRORS.md

// Entry is one code of the catalog: the HTTP status it is answered with, what it means (for
// client developers and docs/ERRORS.md) and the Chinese message shown when the error carries
// none of its own. Most call sites give a more precise message (naming the field at fault, the
// limit, the state), always in the same spirit.
type Entry struct {
	Code    Code
	Status  int
	Meaning string
	Message string
}

// catalog is every error code canbao answers, in the order docs/ERRORS.md lists them (by
// status). An area's own code (ALREADY_ENROLLED, SLUG_TAKEN, …) is here too: Register refuses
// a code that is not, so no code reaches a client undocumented. `go generate
// ./internal/platform/errs` rewrites docs/ERRORS.md from it, and a test fails when the file is
// stale.
var catalog = []Entry{
	// 400: the request itself is wrong; nothing was changed.
	{InvalidInput, 400, "A parameter or field is missing, malformed or out of range; `field` names it. Also an upload that cannot be read.", "请求参数不正确"},
	{MalformedJSON, 400, "The body is not exactly one JSON object: empty, not JSON, or followed by more data.", "请求内容格式不正确"},
	{UnknownField, 400, "The body has a key the endpoint does not take, or one that names a field only when case is ignored; `field` is its path.", "请求包含不允许的字段"},
	{DuplicateKey, 400, "A key appears twice in one JSON object (the JSON decoder would keep the last); `field` is its path.", "请求中有重复的字段"},
	{IDNumberInvalid, 400, "Not a valid resident ID number (GB 11643-1999: length, area, birth date, check character).", "身份证号码不正确"},
	{PhoneInvalid, 400, "Not a mainland mobile number (11 digits starting with 1).", "手机号码不正确"},
	{NameInvalid, 400, "A person's name is empty, too long, or holds digits or symbols.", "姓名不正确"},
	{VillageUnknown, 400, "No village (村/居) of the town has this code.", "所选村（居）不存在"},
	{TierInvalid, 400, "The contribution tier is not one of the year's tiers, is missing, or is given for a scheme without tiers.", "缴费档次不正确"},
	{PasswordTooWeak, 400, "The new password breaks the policy: 10 to 128 characters, three of four classes, no control characters, not containing the username.", "密码强度不足"},
	{RoleInvalid, 400, "Not a staff role (volunteer, village_admin, staff, admin), or the role's village is missing or not allowed.", "角色不正确"},
	{"CREDIT_CODE_INVALID", 400, "Not a valid unified social credit code (统一社会信用代码, GB 32100-2015: 18 characters of its alphabet, registration authority and kind, region, the organisation code's check character, the check character); the message says which rule.", "统一社会信用代码不正确"},
	{PageInvalid, 400, "`page` is not a positive integer or `page_size` is outside 1 to the maximum.", "分页参数不正确"},
	{IdempotencyKeyBad, 400, "The Idempotency-Key header is not 1 to 128 visible ASCII characters.", "Idempotency-Key 须为 1 到 128 个可见 ASCII 字符"},
	// 401: who is calling is unknown.
	{Unauthenticated, 401, "The route needs a token and the request carries none.", "请先登录"},
	{TokenInvalid, 401, "The token does not verify, has expired or was revoked (logout, password or role change, a disabled account, a refresh token replayed).", "登录已失效，请重新登录"},
	{InvalidCredentials, 401, "Wrong username or password; an unknown username answers the same.", "用户名或密码错误"},
	{WeChatCodeInvalid, 401, "WeChat refused the wx.login code (spent, expired or made up).", "微信登录已失效，请重新进入小程序"},
	// 403: the caller is known and may not do this.
	{Forbidden, 403, "The caller's role may not use the route, the resident account is disabled, or a cookie request came from another origin.", "您没有权限进行此操作"},
	// 404
	{NotFound, 404, "No such record, or one outside the caller's village (the two are never told apart), or no such route.", "未找到相关记录"},
	// 408
	{RequestTimeout, 408, "The request body did not arrive within its deadline; the connection is closed.", "请求内容传输超时，请检查网络后重试"},
	// 409: the request clashes with the current state of what it names.
	{Conflict, 409, "The request clashes with the record's current state (an import that has already ended).", "操作与当前状态冲突，请刷新后重试"},
	{AlreadyRegistered, 409, "The person already has a registration this year.", "您今年已提交过参保登记，请勿重复提交"},
	{UsernameTaken, 409, "Another staff account has this username.", "用户名已存在"},
	{IllegalTransition, 409, "The campaign's state machine does not allow the change, or the campaign changed status meanwhile.", "活动状态已发生变化，请刷新后重试"},
	{IdempotencyInFlight, 409, "A request with the same Idempotency-Key is still being processed; retry after it ends.", "相同的请求正在处理中，请稍后再试"},
	{"ALREADY_ENROLLED", 409, "The roster shows the person already insured: no registration is needed.", "系统显示您已参加基本养老保险，无需重复登记"},
	{"REGISTRATION_NOT_OPEN", 409, "The registration has already been decided, or the city's answer does not fit its status.", "该登记已处理，不能重复操作"},
	{"SLUG_TAKEN", 409, "Another policy article has this slug.", "该链接名已被其他文章使用，请换一个"},
	{"CLIENT_ID_CONFLICT", 409, "A visit's client_id was already used for a different visit.", "该 client_id 已被其他走访记录使用"},
	{"CAMPAIGN_STATE_CONFLICT", 409, "A draft or cancelled campaign has no failed deliveries to retry.", "活动当前状态不能重发"},
	{"REFERRAL_OPEN", 409, "The employer already has an open referral case (referred or inspected); follow that one.", "该单位已有未办结的移交案件"},
	{"REFERRAL_STATE_CONFLICT", 409, "A referral case moves only referred → inspected → resolved; the case is not in the status the move starts from.", "案件状态已发生变化，不能进行该操作"},
	// 413
	{BodyTooLarge, 413, "The body or uploaded file is over its limit, or an XLSX file would unpack to more than a real workbook does.", "请求内容过大"},
	// 415
	{UnsupportedMediaType, 415, "A JSON endpoint got a body whose Content-Type is not application/json.", "请求内容须为 JSON（Content-Type: application/json）"},
	// 422: well-formed, but a business rule says no.
	{RuleViolation, 422, "The input is well-formed but breaks a business rule (a campaign ending in the past, an allocation of nothing).", "不符合业务规则"},
	{AgeOutOfScope, 422, "The person is outside the drive's age range (16 to 59 in the year's policy).", "不在全民参保扩面对象的年龄范围内"},
	{SchemeNotAllowed, 422, "The guidance rule does not let this person choose this scheme; the message says why.", "根据您的情况，不能选择该险种"},
	{IdempotencyKeyReused, 422, "The Idempotency-Key was already used with another request body.", "该 Idempotency-Key 已用于另一个请求"},
	{CannotChangeSelf, 422, "An admin may not disable their own account or lower their own role.", "不能停用自己的账号或降低自己的角色"},
	{"VILLAGE_MISMATCH", 422, "A person on the roster registers in another village than the roster's.", "您选择的村（居）与花名册登记的不一致"},
	{"EVENT_CLOSED", 422, "A check-in to a publicity event that has ended or whose day has not come; the message says which.", "本次宣传活动不在签到时间内"},
	{"IDENTITY_MISMATCH", 422, "A person on the roster registers under another name than the roster's.", "您填写的姓名与花名册登记信息不一致"},
	// 429: slow down; Retry-After says for how long.
	{AccountLocked, 429, "Too many wrong passwords from this source for this username; answered the same for unknown usernames.", "登录失败次数过多，账号已暂时锁定，请稍后再试"},
	{RateLimited, 429, "A rate limit: logins per IP, registrations per account, distinct ID numbers per account per day, reveals per staff member.", "操作过于频繁，请稍后再试"},
	// 5xx: the server's side; the answer carries request_id, the log the cause.
	{Internal, 500, "An unexpected failure (including personal data that cannot be decrypted); the log has the cause under the request id.", "系统繁忙，请稍后再试"},
	{Unavailable, 503, "MySQL, Redis, WeChat or another backing service is down or too slow; Retry-After says when to try again.", "服务暂时不可用，请稍后再试"},
}

// byCode indexes the catalog; building it checks that no code is listed twice.
var byCode = func() map[Code]Entry {
	m := make(map[Code]Entry, len(catalog))
	for _, e := range catalog {
		if _, dup := m[e.Code]; dup {
			panic("errs: code " + string(e.Code) + " is in the catalog twice")
		}
		m[e.Code] = e
	}
	return m
}()

// Catalog returns every code with its status, meaning and default message, in the order of
// docs/ERRORS.md.
func Catalog() []Entry { return slices.Clone(catalog) }

// Lookup returns a code's catalog entry.
func Lookup(c Code) (Entry, bool) {
	e, ok := byCode[c]
	return e, ok
}

// Register declares an area's own code, at package initialisation, and returns it so that
// areas can write `var codeX = errs.Register("X", 409)`. The code must be in the catalog with
// that status: anything else is a programming error that panics at start-up (and in every
// test of the area).
func Register(c Code, status int) Code {
	e, ok := byCode[c]
	switch {
	case !ok:
		panic("errs: code " + string(c) + " is not in the catalog (internal/platform/errs/catalog.go); add it there and run go generate ./internal/platform/errs")
	case e.Status != status:
		panic(fmt.Sprintf("errs: code %s registered with status %d, the catalog says %d", c, status, e.Status))
	}
	return c
}

// Codes returns every code of the catalog with its status; api/openapi.yaml's ErrorCode lists
// the same (a test compares them).
func Codes() map[Code]int {
	m := make(map[Code]int, len(catalog))
	for _, e := range catalog {
		m[e.Code] = e.Status
	}
	return m
}

// Status is the HTTP status for a code; a code outside the catalog is 500.
func Status(c Code) int {
	if e, ok := byCode[c]; ok {
		return e.Status
	}
	return 500
}

// message is the catalog's message for code when the caller gives none.
func message(code Code, given string) string {
	if given != "" {
		return given
	}
	return byCode[code].Message
}
