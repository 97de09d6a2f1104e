package wechat

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
)

// TokenMargin is taken off expires_in when caching the access token.
const TokenMargin = 5 * time.Minute

const pollInterval = 25 * time.Millisecond

type tokenFlight struct {
	done chan struct{}
	tok  string
	err  error
}

type localToken struct {
	tok string
	exp time.Time
}

// AccessToken returns the app's access token from POST {base}/cgi-bin/stable_token, cached in
// Redis under keyPrefix+"wechat:token:"+appid for expires_in minus TokenMargin so every instance
// shares one token. Concurrent misses are coalesced: one fetch per process (singleflight) and,
// across processes, one holder of a short Redis SET NX lock while the others poll the cache.
// While Redis fails the token is fetched directly and kept in memory.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	if tok, err := c.readCache(ctx); err == nil && tok != "" {
		return tok, nil
	}
	return c.coalesced(ctx)
}

// InvalidateToken drops the cached token (after 40001/42001), so the next call fetches anew
// with force_refresh false.
func (c *Client) InvalidateToken(ctx context.Context) error {
	c.mu.Lock()
	c.local = localToken{}
	c.mu.Unlock()
	if err := c.rdb.Del(ctx, c.tokenKey).Err(); err != nil {
		return errors.New("wechat: invalidate token: " + err.Error())
	}
	return nil
}

var delIfEqual = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0`)

// invalidateIf drops the cached token only if it is still tok, so a token another instance
// has just refreshed is not thrown away.
func (c *Client) invalidateIf(ctx context.Context, tok string) {
	c.mu.Lock()
	if c.local.tok == tok {
		c.local = localToken{}
	}
	c.mu.Unlock()
	if err := delIfEqual.Run(ctx, c.rdb, []string{c.tokenKey}, tok).Err(); err != nil {
		c.log.Warn("wechat: redis: cannot invalidate token", "err", err)
	}
}

// readCache returns the cached token ("" on a miss). A Redis failure falls back to the
// in-memory copy and is returned as the error when there is none.
func (c *Client) readCache(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", &TransportError{Op: "stable_token", Err: err}
	}
	tok, err := c.rdb.Get(ctx, c.tokenKey).Result()
	switch {
	case err == nil:
		return tok, nil
	case errors.Is(err, redis.Nil):
		return "", nil
	}
	c.log.Warn("wechat: redis: cannot read token cache", "err", err)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.local.tok != "" && time.Now().Before(c.local.exp) {
		return c.local.tok, nil
	}
	return "", err
}

// coalesced joins the process's in-flight fetch or starts one. The fetch runs detached from
// the first caller's cancellation, bounded by its own deadline; each caller waits on its own ctx.
func (c *Client) coalesced(ctx context.Context) (string, error) {
	c.mu.Lock()
	f := c.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		c.flight = f
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*c.lockTTL()+c.tmo)
		go func() {
			defer cancel()
			f.tok, f.err = c.coordinated(fctx)
			c.mu.Lock()
			c.flight = nil
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return "", &TransportError{Op: "stable_token", Err: ctx.Err()}
	}
}

func (c *Client) lockTTL() time.Duration { return c.tmo + 2*time.Second }

// coordinated makes sure one instance fetches: the holder of the Redis lock fetches and
// stores; the others poll the cache until it appears or the lock is free again.
func (c *Client) coordinated(ctx context.Context) (string, error) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	owner := hex.EncodeToString(nonce)
	for {
		tok, err := c.readCache(ctx)
		if err == nil && tok != "" {
			return tok, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return "", &TransportError{Op: "stable_token", Err: ctx.Err()}
			}
			return c.fetchAndStore(ctx) // Redis down: fetch alone
		}
		got, err := c.rdb.SetNX(ctx, c.lockKey, owner, c.lockTTL()).Result()
		if err != nil {
			if ctx.Err() != nil {
				return "", &TransportError{Op: "stable_token", Err: ctx.Err()}
			}
			c.log.Warn("wechat: redis: cannot take token lock", "err", err)
			return c.fetchAndStore(ctx)
		}
		if got {
			defer c.unlock(ctx, owner)
			// Another instance may have stored a token between our read and our lock.
			if tok, err := c.readCache(ctx); err == nil && tok != "" {
				return tok, nil
			}
			return c.fetchAndStore(ctx)
		}
		select {
		case <-ctx.Done():
			return "", &TransportError{Op: "stable_token", Err: ctx.Err()}
		case <-time.After(pollInterval):
		}
	}
}

func (c *Client) unlock(ctx context.Context, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := delIfEqual.Run(ctx, c.rdb, []string{c.lockKey}, owner).Err(); err != nil {
		c.log.Warn("wechat: redis: cannot release token lock", "err", err)
	}
}

func (c *Client) fetchAndStore(ctx context.Context) (string, error) {
	tok, expiresIn, err := c.stableToken(ctx)
	if err != nil {
		return "", err
	}
	ttl := expiresIn - TokenMargin
	if ttl < expiresIn/2 {
		ttl = expiresIn / 2
	}
	c.mu.Lock()
	c.local = localToken{tok: tok, exp: time.Now().Add(ttl)}
	c.mu.Unlock()
	if ttl >= time.Second {
		if err := c.rdb.Set(ctx, c.tokenKey, tok, ttl.Truncate(time.Second)).Err(); err != nil {
			c.log.Warn("wechat: redis: cannot cache token", "err", err)
		}
	}
	c.log.Info("wechat access token fetched", "expires_in_s", int(expiresIn/time.Second))
	return tok, nil
}

type stableTokenAnswer struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	ErrCode     int    `json:"errcode"`
	ErrMsg      string `json:"errmsg"`
}

func (c *Client) stableToken(ctx context.Context) (string, time.Duration, error) {
	const op = "stable_token"
	body, _ := json.Marshal(struct {
		GrantType    string `json:"grant_type"`
		AppID        string `json:"appid"`
		Secret       string `json:"secret"`
		ForceRefresh bool   `json:"force_refresh"`
	}{"client_credential", c.appID, c.secret, false})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/cgi-bin/stable_token", bytes.NewReader(body))
	if err != nil {
		return "", 0, &TransportError{Op: op, Err: errors.New("cannot build request")}
	}
	req.Header.Set("Content-Type", "application/json")
	var a stableTokenAnswer
	if err := c.do(req, op, &a); err != nil {
		c.log.Warn("wechat call failed", "op", op, "err", err)
		return "", 0, err
	}
	if a.ErrCode != 0 {
		return "", 0, c.apiError(op, a.ErrCode, a.ErrMsg, a.AccessToken)
	}
	if a.AccessToken == "" || a.ExpiresIn <= 0 {
		return "", 0, malformed(op, "missing access_token or expires_in")
	}
	return a.AccessToken, time.Duration(a.ExpiresIn) * time.Second, nil
}
