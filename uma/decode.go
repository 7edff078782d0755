package uma

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/rptguard/rptguard/internal/strictjson"
)

// errBadField reports an answer whose JSON is well-formed but whose fields
// break the contract. It is wrapped into ErrUnavailable by the callers.
var errBadField = errors.New("field missing or invalid")

// errBadJSON reports an answer that is not the JSON value expected.
var errBadJSON = errors.New("not valid JSON of the expected shape")

// decodeObject decodes an answer whose root must be a JSON object. The object
// is first checked by strictjson (valid UTF-8, no duplicate or case-variant
// member names, bounded depth, no trailing data), then decoded into v.
func decodeObject(body []byte, v any) error {
	if _, err := strictjson.Decode(body); err != nil {
		return errBadJSON
	}
	return decodeStrict(body, v)
}

// decodeStrict decodes exactly one JSON value into v (valid UTF-8, no
// trailing data). Type mismatches are errors.
func decodeStrict(body []byte, v any) error {
	if !utf8.Valid(body) {
		return errBadJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return errBadJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errBadJSON
	}
	return nil
}
