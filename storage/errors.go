package storage

import (
	"errors"
	"fmt"
)

// Code is a stable, client-visible error code.
type Code string

// The error codes storage returns. The GraphQL layer passes them to clients as extensions.code.
const (
	CodeNotFound         Code = "NOT_FOUND"
	CodeInvalidArgument  Code = "INVALID_ARGUMENT"
	CodeInvalidDate      Code = "INVALID_DATE"
	CodeInvalidCountry   Code = "INVALID_COUNTRY"
	CodeQuoteNotInSource Code = "QUOTE_NOT_IN_SOURCE"
	CodeAlreadyExists    Code = "ALREADY_EXISTS"
	CodeConflict         Code = "CONFLICT"
	CodeAlreadyRetracted Code = "ALREADY_RETRACTED"
)

// Error is a failure the client caused and can correct. Anything else that storage
// returns is internal.
type Error struct {
	Code    Code
	Field   string // the input field at fault, when there is one
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf makes an *Error.
func Errorf(code Code, field, format string, args ...any) error {
	return &Error{Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err if it is (or wraps) an *Error, else "".
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
