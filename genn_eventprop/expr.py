"""Equation strings to sympy without running any Python, and text that is safe in generated C++.

parse_equation reads a model's equation (a flow, threshold, reset, jump, current or readout weighting) with
Python's own parser (ast.parse, which only parses) and builds the sympy expression from the syntax tree
itself: numbers, the model's own symbols, + - * / ** (and ^, read as **), unary minus, parentheses, and calls
of a fixed list of sympy functions. Anything else (attribute access, subscripts, keywords, lambdas,
comparisons, strings, a name that is neither a symbol of the model nor a listed function) is refused with
a ConfigError; nothing in the string is ever evaluated, so a model file shared by a colleague cannot run
code through an equation.

Names that become C++ identifiers must be identifiers (check_identifier); text that goes into C++ comments
goes through comment_text, which keeps printable ASCII only, so no newline or line-continuing backslash
can end a comment early and inject code.
"""
from __future__ import annotations

import ast
import keyword
import re
from typing import Dict

import sympy as sp

from genn_eventprop.errors import ConfigError

# The functions an equation may call: sympy's, by the names sympify knows them by. The non-smooth ones
# (Abs, sign, floor, ceiling, frac, Heaviside, Max, Min) parse so that the EventProp pass can refuse them by name.
FUNCTIONS = {
    "exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh, "atan": sp.atan, "asin": sp.asin, "acos": sp.acos,
    "erf": sp.erf, "Abs": sp.Abs, "sign": sp.sign, "floor": sp.floor, "ceiling": sp.ceiling,
    "Heaviside": sp.Heaviside, "Max": sp.Max, "Min": sp.Min, "frac": sp.frac,
}
CONSTANTS = {"pi": sp.pi, "E": sp.E}

_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# C++ keywords and the generated code's own type and macro names: a model symbol must not be one of them
CPP_RESERVED = {
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
    "char", "class", "compl", "const", "constexpr", "const_cast", "continue", "decltype", "default", "delete",
    "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
    "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
    "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct", "switch",
    "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename", "union",
    "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
    "scalar", "INFINITY", "NAN",
}


def check_identifier(name, what: str) -> str:
    """name, when it can be a C++ identifier (and a sympy symbol); else a ConfigError saying why not."""
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise ConfigError(f"{what} {name!r} is not a valid name: use letters, digits and _ (not first a digit), "
                          "since it becomes a name in the generated C++")
    if name in CPP_RESERVED or keyword.iskeyword(name) or name in FUNCTIONS or name in CONSTANTS:
        raise ConfigError(f"{what} {name!r} is a reserved word of C++, Python or the equations; rename it")
    return name


def comment_text(text) -> str:
    """text as it may stand in a // comment of generated code: printable ASCII only; anything else (a newline,
    a backslash that would continue the comment onto the next line, a trigraph) is written as <U+XXXX>."""
    out = []
    for ch in str(text):
        if " " <= ch <= "~" and ch not in "\\?":
            out.append(ch)
        elif ch == "?":
            out.append("?" if not out or out[-1] != "?" else "<U+003F>")   # no ??/ trigraph
        else:
            out.append(f"<U+{ord(ch):04X}>")
    return "".join(out)


def parse_equation(text, symbols: Dict[str, sp.Symbol], where: str) -> sp.Expr:
    """The sympy expression of an equation string (see the module docstring); symbols are the names it may use."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return sp.sympify(text)
    if not isinstance(text, str):
        raise ConfigError(f"{where} must be an equation string, got {type(text).__name__} {text!r}")
    bad = [ch for ch in text if not (" " <= ch <= "~")]
    if bad:
        raise ConfigError(f"{where} {comment_text(text)!r} contains the character {comment_text(bad[0])}; an "
                          "equation is one line of printable ASCII")
    try:
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")   # ^ is a power, as sympify reads it
    except SyntaxError as err:
        raise ConfigError(f"cannot parse {where} {text!r}: {err.msg}") from None
    return _build(tree.body, symbols, where, text)


def _build(node, symbols, where, text):
    def refuse(what):
        raise ConfigError(f"{where} {text!r}: {what} is not allowed in an equation; use numbers, the model's "
                          f"symbols ({', '.join(sorted(symbols))}), + - * / ** and the functions "
                          f"{', '.join(sorted(FUNCTIONS))}")

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            refuse(f"the constant {node.value!r}")
        return sp.Integer(node.value) if isinstance(node.value, int) else sp.Float(repr(node.value))
    if isinstance(node, ast.Name):
        if node.id in symbols:
            return symbols[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in FUNCTIONS:
            refuse(f"the function {node.id} without arguments")
        raise ConfigError(f"{where} {text!r} uses unknown symbols [{node.id!r}]; known: {sorted(symbols)}")
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_build(node.left, symbols, where, text), _build(node.right, symbols, where, text))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_build(node.operand, symbols, where, text))
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name not in FUNCTIONS:
            refuse(f"calling {ast.unparse(node.func)}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args) or not node.args:
            refuse(f"this call of {name}")
        return FUNCTIONS[name](*(_build(a, symbols, where, text) for a in node.args))
    refuse(f"'{ast.unparse(node)}' ({type(node).__name__})")
