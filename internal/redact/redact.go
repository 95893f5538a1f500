// Package redact hides the secrets of connection strings: the one place
// that decides what of a DSN may be printed. Every store, the storeurl
// package, the operator CLI and the runtime's printed commands use it.
//
//	redact.DSN("postgres://ops:s3cret@db/app")  // "postgres://ops:xxxxx@db/app"
//	redact.Error(err, dsn)                       // err, with nothing of dsn's secrets in its message
//
// It reads every form a driver accepts, and reads each conservatively, so
// that whatever a driver takes for a password is hidden:
//
//   - URLs (postgres://, postgresql://, mongodb://, mongodb+srv://, any
//     scheme://): the password of the user information, with any
//     characters, percent-encoded or not. An unencoded '/', '?', '#' or
//     '@' in a password makes the URL ambiguous (pgx ends the user
//     information at the first '@', the MongoDB driver at the last one
//     before the hosts, a person at the last one of all), so everything
//     from the first ':' after the scheme to the last '@' of the whole
//     string counts as the password when there is more than one '@' or the
//     only one comes after a '/'. An '@' in a query value therefore hides
//     the host: percent-encode it (%40).
//   - Query parameters, in URLs or not: the values of password,
//     sslpassword, MongoDB's tlsCertificateKeyFilePassword, proxyPassword,
//     authMechanismProperties (which may hold an AWS session token) and any
//     parameter whose name holds "password", "secret" or "token", in any
//     case or percent-encoding, separated by '&' or ';'. A value ends where
//     the next parameter begins (a separator followed by NAME=), so an
//     unencoded '&' inside it does not show the rest.
//   - PostgreSQL keyword/value strings (host=db password='a b' …), with
//     libpq's quoting and backslash escapes; an unterminated quote hides
//     everything after it. A value that is itself a URL is redacted as one.
//
// Secrets are replaced by Mask, so that a reader sees a password was given.
// Anything else, sqlite:PATH included, is returned as it is.
package redact

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Mask stands for a secret in redacted text.
const Mask = "xxxxx"

// DSN returns dsn with every secret replaced by Mask, keeping everything
// else, including the order and spelling of the parameters, so that the
// result still names the store.
func DSN(dsn string) string {
	spans := secretSpans(dsn)
	if len(spans) == 0 {
		return dsn
	}
	var b strings.Builder
	at := 0
	for _, s := range spans {
		b.WriteString(dsn[at:s.from])
		b.WriteString(Mask)
		at = s.to
	}
	b.WriteString(dsn[at:])
	return b.String()
}

// Error returns err with every secret of dsn removed from its message (see
// Secrets.Error); nil stays nil.
func Error(err error, dsn string) error { return SecretsOf(dsn).Error(err) }

// Secrets are what DSN hides in one connection string, in every form a
// message may quote them: as written, decoded, and each run of their
// letters and digits between separators (a driver that misreads an
// unencoded password prints its pieces as a host, a port or a database).
// A store keeps them, not the DSN, to scrub the errors of later
// operations. The zero value scrubs nothing.
type Secrets struct {
	words []string // longest first
}

// SecretsOf returns the secrets of dsn.
func SecretsOf(dsn string) Secrets {
	var words []string
	add := func(s string) {
		for _, v := range variants(s) {
			words = append(words, pieces(v)...)
		}
	}
	for _, s := range secretSpans(dsn) {
		add(dsn[s.from:s.to])
	}
	// Longest first, so that a piece of a longer secret does not split it.
	slices.SortFunc(words, func(a, b string) int { return cmp.Or(len(b)-len(a), strings.Compare(a, b)) })
	return Secrets{words: slices.Compact(words)}
}

// minWord is the shortest piece of a secret that is scrubbed: shorter ones
// would mangle the words of messages without hiding anything.
const minWord = 3

// String returns msg with every secret replaced by Mask, where it stands
// on its own: a piece that starts or ends with a letter or digit is not
// replaced inside a longer word of msg ("sab" of a password stays in
// "disable").
func (s Secrets) String(msg string) string {
	for _, w := range s.words {
		msg = replaceWord(msg, w)
	}
	return msg
}

// replaceWord replaces the occurrences of w in msg that are not part of a
// longer word.
func replaceWord(msg, w string) string {
	var b strings.Builder
	done := 0 // msg[:done] is in b
	for from := 0; ; {
		i := strings.Index(msg[from:], w)
		if i < 0 {
			break
		}
		i += from
		j := i + len(w)
		if (wordByte(w[0]) && i > 0 && wordByte(msg[i-1])) || (wordByte(w[len(w)-1]) && j < len(msg) && wordByte(msg[j])) {
			from = i + 1
			continue
		}
		b.WriteString(msg[done:i])
		b.WriteString(Mask)
		done, from = j, j
	}
	if done == 0 {
		return msg
	}
	b.WriteString(msg[done:])
	return b.String()
}

// Error returns err with every secret replaced by Mask in its message. The
// result keeps err in its chain, for errors.Is and errors.As: print the
// result, not the errors it wraps. nil stays nil, and an error whose
// message holds no secret is returned as it is.
func (s Secrets) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := s.String(err.Error())
	if msg == err.Error() {
		return err
	}
	return &scrubbed{msg: msg, err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

// variants returns s as written and as the drivers decode it: percent-
// decoded (as a path, where '+' stays, and as a query, where it is a
// space) and with libpq's quotes and backslash escapes removed; and each
// of those as Go's %q quotes it.
func variants(s string) []string {
	out := []string{s}
	if d, err := url.PathUnescape(s); err == nil {
		out = append(out, d)
	}
	if d, err := url.QueryUnescape(s); err == nil {
		out = append(out, d)
	}
	if unquoted := unescapeKeywordValue(s); unquoted != s {
		out = append(out, unquoted)
	}
	for _, v := range out {
		// As %q quotes it, the way drivers quote hosts and names.
		if q := strconv.Quote(v); q[1:len(q)-1] != v {
			out = append(out, q[1:len(q)-1])
		}
	}
	return out
}

// pieces returns s and every run of consecutive words of s (ASCII letters
// and digits, split at any other byte) that is at least minWord long, each
// as it appears in s.
func pieces(s string) []string {
	var out []string
	if len(s) >= minWord {
		out = append(out, s)
	}
	type word struct{ from, to int }
	var words []word
	for i := 0; i < len(s); {
		if !wordByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && wordByte(s[j]) {
			j++
		}
		words = append(words, word{i, j})
		i = j
	}
	// Runs of up to maxRun words: a driver prints a host, a host:port or
	// a database, never a long run of a password's pieces.
	const maxRun = 8
	for i := range words {
		for j := i; j < len(words) && j < i+maxRun; j++ {
			if p := s[words[i].from:words[j].to]; len(p) >= minWord {
				out = append(out, p)
			}
		}
	}
	return out
}

func wordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// span is a secret's place in a DSN, [from, to).
type span struct{ from, to int }

// secretSpans returns where the secrets of dsn are, sorted and merged.
func secretSpans(dsn string) []span {
	var spans []span
	if rest, ok := afterScheme(dsn); ok {
		spans = append(spans, userinfoPassword(dsn, len(dsn)-len(rest))...)
		spans = append(spans, queryValues(dsn)...)
	} else {
		spans = append(spans, keywordValues(dsn)...)
		spans = append(spans, queryValues(dsn)...)
	}
	return merge(spans)
}

// afterScheme returns what follows "scheme://" when dsn starts with one.
func afterScheme(dsn string) (string, bool) {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok || scheme == "" {
		return "", false
	}
	for i := 0; i < len(scheme); i++ {
		c := scheme[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return "", false
		}
	}
	return rest, true
}

// Ambiguous reports whether the user information of the URL dsn cannot be
// told from what follows it: dsn has more than one '@', or its only '@'
// comes after a '/'. Drivers read such a URL differently (pgx ends the user
// information at the first '@' before a '/', the MongoDB driver at the last
// one) and misread a password with an unencoded '@' or '/' as hosts, which
// their errors then print; DSN hides everything up to the last '@'. Stores
// refuse such a URL, asking for the password to be percent-encoded.
// Strings that are not URLs are never ambiguous.
func Ambiguous(dsn string) bool {
	rest, ok := afterScheme(dsn)
	return ok && ambiguous(rest)
}

// ambiguous is Ambiguous of what follows "scheme://".
func ambiguous(rest string) bool {
	first, last := strings.IndexByte(rest, '@'), strings.LastIndexByte(rest, '@')
	if first < 0 {
		return false
	}
	slash := strings.IndexByte(rest, '/')
	return first != last || slash >= 0 && slash < first
}

// userinfoPassword finds the password of the user information of the URL
// dsn, whose authority starts at start (see the package documentation).
func userinfoPassword(dsn string, start int) []span {
	rest := dsn[start:]
	first := strings.IndexByte(rest, '@')
	if first < 0 {
		return nil
	}
	end := strings.LastIndexByte(rest, '@')
	if !ambiguous(rest) {
		end = first
	}
	colon := strings.IndexByte(rest[:end], ':')
	if colon < 0 {
		return nil // a user without a password
	}
	return []span{{start + colon + 1, start + end}}
}

// queryValues finds the values of secret parameters: NAME=VALUE after '?',
// '&' or ';' anywhere in s.
func queryValues(s string) []span {
	var spans []span
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '?' && c != '&' && c != ';' {
			continue
		}
		name, ok := paramName(s[i+1:])
		if !ok || !secretName(name) {
			continue
		}
		from := i + 1 + len(name) + 1
		to := from
		for to < len(s) {
			if c := s[to]; (c == '&' || c == ';') && startsParam(s[to+1:]) {
				break
			}
			to++
		}
		spans = append(spans, span{from, to})
	}
	return spans
}

// paramName returns the NAME of "NAME=…" at the start of s.
func paramName(s string) (string, bool) {
	i := 0
	for i < len(s) && nameByte(s[i]) {
		i++
	}
	if i == 0 || i == len(s) || s[i] != '=' {
		return "", false
	}
	return s[:i], true
}

func startsParam(s string) bool {
	_, ok := paramName(s)
	return ok
}

func nameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.' || c == '%'
}

// secretName reports whether a parameter or keyword names a secret.
func secretName(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.ToLower(name)
	return strings.Contains(name, "password") || strings.Contains(name, "secret") ||
		strings.Contains(name, "token") || name == "authmechanismproperties"
}

// keywordValues finds the secrets of a libpq keyword/value string: the
// values of secret keywords, and those in values that are URLs.
func keywordValues(s string) []span {
	var spans []span
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	secret := -1 // the index in spans of the latest value, when it is a secret
	i := 0
	for i < len(s) {
		for i < len(s) && space(s[i]) {
			i++
		}
		keyFrom := i
		for ; i < len(s) && s[i] != '=' && !space(s[i]); i++ {
			if s[i] == '\\' {
				i++
			}
		}
		i = min(i, len(s))
		key := s[keyFrom:i]
		for i < len(s) && space(s[i]) {
			i++
		}
		if i == len(s) || s[i] != '=' {
			// Not KEY=VALUE, which libpq refuses. After a secret it is
			// most likely the rest of a password with an unescaped space.
			if secret >= 0 {
				spans[secret].to = keyFrom + len(key)
			}
			continue
		}
		secret = -1
		i++
		for i < len(s) && space(s[i]) {
			i++
		}
		from := i
		if i < len(s) && s[i] == '\'' {
			for i++; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			i++ // the closing quote; past the end when there is none
		} else {
			for ; i < len(s) && !space(s[i]); i++ {
				if s[i] == '\\' {
					i++
				}
			}
		}
		i = min(i, len(s))
		switch value := s[from:i]; {
		case secretName(key):
			secret = len(spans)
			spans = append(spans, span{from, i})
		case strings.Contains(value, "://"):
			if rest, ok := afterScheme(strings.Trim(value, "'")); ok {
				offset := from + strings.Index(value, rest)
				for _, sp := range userinfoPassword(s[:i], offset) {
					spans = append(spans, sp)
				}
			}
		}
	}
	return spans
}

// unescapeKeywordValue removes libpq's quotes and backslash escapes from a
// keyword/value value.
func unescapeKeywordValue(s string) string {
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = s[1 : len(s)-1]
	}
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			i++
			if i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// merge sorts spans and merges those that overlap or touch.
func merge(spans []span) []span {
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	var out []span
	for _, s := range spans {
		if s.from >= s.to {
			continue
		}
		if n := len(out); n > 0 && s.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	return out
}
