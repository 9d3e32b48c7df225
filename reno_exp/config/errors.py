"""Errors that mean "the input is wrong": the app prints them as one line, without a traceback."""


class UserError(RuntimeError):
    pass
