// Command route-oracle routes request targets the way dockerd does, to check the Rust route
// parser against: Go's own request-line reader and gorilla mux, with dockerd's route table.
//
// Usage: route-oracle ROUTE_TABLE < cases, where ROUTE_TABLE holds "METHOD TEMPLATE [unversioned]"
// lines (ANY = no method matcher) and each case line is "METHOD<TAB>TARGET" with the target
// base64-encoded. Prints one JSON object a line.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/gorilla/mux"
)

type verdict struct {
	Outcome  string              `json:"outcome"`
	Template string              `json:"template,omitempty"`
	Vars     map[string]string   `json:"vars,omitempty"`
	Query    map[string][]string `json:"query,omitempty"`
	QueryErr string              `json:"query_err,omitempty"`
	Detail   string              `json:"detail,omitempty"`
}

var patternInTemplate = regexp.MustCompile(`\{([^:}]+)(:[^}]*)?\}`)

func main() {
	table, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	const versionMatcher = "/v{version:[0-9.]+}"
	router := mux.NewRouter()
	for _, line := range strings.Split(string(table), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		method, template := fields[0], fields[1]
		display := patternInTemplate.ReplaceAllString(template, "{$1}")
		handler := routeHandler(display)
		if len(fields) < 3 || fields[2] != "unversioned" {
			route := router.Path(versionMatcher + template)
			if method != "ANY" {
				route = route.Methods(method)
			}
			route.Handler(handler)
		}
		route := router.Path(template)
		if method != "ANY" {
			route = route.Methods(method)
		}
		route.Handler(handler)
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	router.HandleFunc(versionMatcher+"/{path:.*}", notFound)
	router.NotFoundHandler = notFound
	router.MethodNotAllowedHandler = notFound

	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		method, encoded, _ := strings.Cut(in.Text(), "\t")
		target, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			panic(err)
		}
		out.Encode(route(router, method, string(target)))
	}
}

func route(router *mux.Router, method, target string) verdict {
	raw := method + " " + target + " HTTP/1.1\r\nHost: docker\r\n\r\n"
	if strings.ContainsAny(method+target, "\r\n") {
		return verdict{Outcome: "malformed", Detail: "line break in the request line"}
	}
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return verdict{Outcome: "malformed", Detail: err.Error()}
	}
	if req.RequestURI == "*" && req.Method == "OPTIONS" {
		return verdict{Outcome: "malformed", Detail: "answered by net/http"}
	}
	rec := httptest.NewRecorder()
	router.ServeHTTP(rec, req)
	switch rec.Code {
	case http.StatusMovedPermanently:
		return verdict{Outcome: "unclean", Detail: rec.Header().Get("Location")}
	case http.StatusNotFound:
		return verdict{Outcome: "unknown"}
	case http.StatusOK:
		var v verdict
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			panic(err)
		}
		return v
	default:
		return verdict{Outcome: "unexpected", Detail: rec.Result().Status}
	}
}

func routeHandler(display string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := verdict{Outcome: "route", Template: display, Vars: mux.Vars(r)}
		query, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			v.QueryErr = err.Error()
		}
		if len(query) > 0 {
			v.Query = query
		}
		json.NewEncoder(w).Encode(v)
	})
}
