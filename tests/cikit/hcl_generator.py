"""Random valid HCL for the differential test of ``poolform fmt`` against ``terraform fmt``.

``generate(rng)`` writes a configuration from a grammar (blocks with labels, nested and
single-line blocks, attributes whose values are numbers, strings with escapes and
interpolations, template directives, heredocs, traversals and splats, calls, lists and
objects on one or many lines, for expressions, conditionals, operators) with comments in
odd places and blank lines, then ``scramble`` re-spaces it: indentation, spaces around
and between tokens, tabs, removed spaces where that keeps the tokens, CRLF line ends.
"""

from __future__ import annotations

import random

from reconciler.config.hcl_fmt import tokenize

IDENTS = ["a", "bb", "name", "type", "count", "x_y", "with-dash", "k8s", "description", "concurrency_limit", "v2"]
VARIABLE_TYPES = ["string", "list", "map", "set", '"string"', '"list"', '"map"', "list(string)", "object({ a = string })"]
WORDS = ["hello", "a b", "x = { [", "tab\\there", "quote \\\" inside", "$${not_interp}", "%%{not}", "ünï", "50% off",
         "$5", "line\\nbreak", "\\u00e9"]


class Gen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choice(self, items):  # type: ignore[no-untyped-def]
        return self.rng.choice(items)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def ident(self) -> str:
        return self.choice(IDENTS)

    def comment(self) -> str:
        return self.choice(["# note", "// note", "/* note */", "#", "# a = 1 {", "// trailing  spaces  "])

    def string(self, depth: int) -> str:
        parts = []
        for _ in range(self.rng.randint(0, 3)):
            kind = self.rng.randint(0, 4)
            if kind <= 1:
                parts.append(self.choice(WORDS))
            elif kind == 2 and depth < 3:
                tilde = self.choice(["", "~"])
                parts.append("${" + tilde + " " * self.rng.randint(0, 1) + self.expr(depth + 1, simple=True)
                             + " " * self.rng.randint(0, 1) + self.choice(["", "~"]) + "}")
            elif kind == 3 and depth < 3:
                parts.append("%{ if " + self.expr(depth + 1, simple=True) + " }yes%{ else }no%{ endif }")
            else:
                parts.append("%{ for x in " + self.traversal() + " }${x},%{ endfor }")
        return '"' + "".join(parts) + '"'

    def traversal(self) -> str:
        out = self.choice(["var", "local", "each", "module", "data", "aws"]) + "." + self.ident()
        for _ in range(self.rng.randint(0, 3)):
            out += self.choice([f".{self.ident()}", f"[{self.rng.randint(0, 3)}]", '["k"]', "[var.i]"])
        if self.chance(0.3):
            out += self.choice(["[*].id", ".*.name", ".0", "[*]", ".*"])
        return out

    def heredoc(self, depth: int) -> str:
        marker = self.choice(["EOT", "EOF", "JSON"])
        flush = self.choice(["", "-"])
        indent = " " * self.rng.randint(0, 4)
        lines = []
        for _ in range(self.rng.randint(0, 4)):
            line = indent + " " * self.rng.randint(0, 3) + self.choice(["text", "a = 1   ", "  {", "${var.x} and more",
                                                                         "%{ if true }y%{ endif }", "", "#not comment"])
            lines.append(line)
        return f"<<{flush}{marker}\n" + "".join(line + "\n" for line in lines) + (indent if flush else "") + marker

    def expr(self, depth: int, *, simple: bool = False) -> str:
        if depth > 3 or simple:
            return self.choice([str(self.rng.randint(0, 99)), "1.5", "2e3", "true", "null", self.traversal(),
                                self.string(9), "-1", f"f({self.traversal()})"])
        kind = self.rng.randint(0, 15)
        if kind == 0:
            return str(self.rng.choice([0, 1, 42, 1.25, "1e10", "3.0e-2"]))
        if kind == 1:
            return self.string(depth)
        if kind == 2:
            return self.traversal()
        if kind == 3:
            return self.choice(["true", "false", "null"])
        if kind == 4:
            name = self.choice(["jsonencode", "merge", "lookup", "provider::terraform::encode_tfvars", "max", "f"])
            args = [self.expr(depth + 1) for _ in range(self.rng.randint(0, 3))]
            if args and self.chance(0.3):
                inner = "".join("\n" + a + "," for a in args)
                return f"{name}({inner}\n)"
            return f"{name}(" + ", ".join(args) + ("..." if args and self.chance(0.1) else "") + ")"
        if kind in (5, 6):
            return self.tuple(depth)
        if kind in (7, 8):
            return self.object(depth)
        if kind == 9:
            op = self.choice(["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "&&", "||"])
            return f"{self.expr(depth + 1)} {op} {self.expr(depth + 1)}"
        if kind == 10:
            return self.choice(["-", "!"]) + self.choice([self.traversal(), "(" + self.expr(depth + 1) + ")", "1"])
        if kind == 11:
            if self.chance(0.3):
                return f"({self.expr(depth + 1)} ?\n{self.expr(depth + 1)} :\n{self.expr(depth + 1)})"
            return f"{self.expr(depth + 1)} ? {self.expr(depth + 1)} : {self.expr(depth + 1)}"
        if kind == 12:
            key = self.choice(["x", "k, v"])
            cond = f" if {self.expr(depth + 1, simple=True)}" if self.chance(0.5) else ""
            if self.chance(0.5):
                return f"[for {key} in {self.traversal()} : {self.expr(depth + 1, simple=True)}{cond}]"
            group = "..." if self.chance(0.2) else ""
            return f"{{ for {key} in {self.traversal()} : {self.expr(depth + 1, simple=True)} => " \
                   f"{self.expr(depth + 1, simple=True)}{group}{cond} }}"
        if kind == 13:
            return "(" + self.expr(depth + 1) + ")"
        if kind == 14:
            return '"${' + self.expr(depth + 1, simple=True) + '}"'
        return self.traversal() + self.choice(["[*]", "[0]", ".*"])

    def tuple(self, depth: int) -> str:
        items = [self.expr(depth + 1) for _ in range(self.rng.randint(0, 4))]
        if not items:
            return self.choice(["[]", "[ ]"])
        if self.chance(0.5):
            return "[" + ", ".join(items) + "]"
        lines = []
        for index, item in enumerate(items):
            comma = "," if index < len(items) - 1 or self.chance(0.5) else ""
            comment = " " + self.comment() if self.chance(0.3) else ""
            lines.append(f"{item}{comma}{comment}")
            if self.chance(0.15):
                lines.append(self.choice(["# between", "", "/* block */"]))
        return "[\n" + "\n".join(lines) + "\n]"

    def object(self, depth: int) -> str:
        count = self.rng.randint(0, 4)
        if count == 0:
            return self.choice(["{}", "{ }"])
        keys = []
        while len(keys) < count:
            key = self.choice([self.ident(), '"quoted key"', '"a.b"', "(var.k)", self.ident() + "2"])
            if key not in keys:
                keys.append(key)
        sep = self.choice(["=", ":"])
        if self.chance(0.4):
            return "{ " + ", ".join(f"{k} {sep} {self.expr(depth + 1, simple=True)}" for k in keys) + " }"
        lines = []
        for key in keys:
            value = self.expr(depth + 1)
            comment = " " + self.comment() if self.chance(0.25) else ""
            lines.append(f"{key} {sep} {value}{self.choice(['', ','])}{comment}")
            if self.chance(0.2):
                lines.append(self.choice(["", "# inside"]))
        return "{\n" + "\n".join(lines) + "\n}"

    def body(self, depth: int) -> list[str]:
        lines: list[str] = []
        used: set[str] = set()
        for _ in range(self.rng.randint(1 if depth else 2, 6 if depth < 2 else 3)):
            roll = self.rng.random()
            if roll < 0.12:
                lines.append("")
            elif roll < 0.22:
                lines.append(self.comment())
            elif roll < 0.38 and depth < 3:
                lines.extend(self.block(depth))
            else:
                name = self.ident()
                if name in used:
                    continue
                used.add(name)
                value = self.heredoc(depth) if self.chance(0.08) else self.expr(depth)
                comment = " " + self.comment() if self.chance(0.2) and not value.startswith("<<") else ""
                lines.append(f"{name} = {value}{comment}")
        return lines

    def block(self, depth: int) -> list[str]:
        kind = self.choice(["resource", "locals", "variable", "dynamic", "lifecycle", "provisioner", "module"])
        labels = {"resource": ['"prefect_work_pool"', '"p"'], "variable": ['"v"'], "dynamic": ['"setting"'],
                  "module": ["m"], "provisioner": ['"local-exec"']}.get(kind, [])
        if kind == "variable" and depth == 0:
            inner = ["type = " + self.choice(VARIABLE_TYPES)]
            if self.chance(0.5):
                inner.append(f"default = {self.expr(2)}")
            return [f"{kind} {' '.join(labels)} {{"] + inner + ["}"]
        if self.chance(0.15):
            return [f"{kind} {' '.join(labels)} {{ {self.ident()} = {self.expr(3, simple=True)} }}"]
        if self.chance(0.1):
            return [f"{kind} {' '.join(labels)} {{}}"]
        return [f"{kind} {' '.join(labels)} {{"] + self.body(depth + 1) + ["}"]


def generate(rng: random.Random) -> str:
    gen = Gen(rng)
    return "\n".join(gen.body(0)) + "\n"


_WORDISH = {"IDENT", "NUMBER"}
_JOINS = {"==", "!=", "<=", ">=", "&&", "||", "::", "=>", "..", "//", "/*", "<<", "~}", "${", "%{", "*/", "-=", "->"}
_TEMPLATE = {"OQUOTE", "QUOTED_LIT", "OHEREDOC", "STRING_LIT", "CHEREDOC", "CQUOTE"}


def scramble(text: str, rng: random.Random) -> str:
    """The same tokens with other spaces: indentation, gaps, tabs, some CRLF line ends."""
    tokens = tokenize(text)
    crlf = rng.random() < 0.1
    out: list[str] = []
    previous = None
    for token in tokens:
        gap = token.spaces
        at_line_start = previous is None or previous.type == "NEWLINE" or (
            previous.type == "COMMENT" and previous.text.endswith("\n"))
        in_template = previous is not None and (previous.type in _TEMPLATE - {"CQUOTE", "CHEREDOC"}
                                                or token.type in _TEMPLATE - {"OQUOTE", "OHEREDOC"})
        if token.type in ("STRING_LIT", "CHEREDOC") or (previous is not None and previous.type == "OHEREDOC"):
            pass
        elif at_line_start and token.type != "NEWLINE":
            gap = rng.choice([0, 0, 1, 2, 4, 7])
        elif in_template or token.type == "EOF":
            pass
        elif gap > 0:
            gap = rng.choice([1, 1, 2, 3]) if not _can_join(previous, token) or rng.random() < 0.7 else 0
        elif previous is not None and previous.type != "NEWLINE" and rng.random() < 0.15 and token.type != "NEWLINE":
            gap = rng.choice([1, 2])
        spaces = "".join(rng.choice([" ", " ", " ", "\t"]) for _ in range(gap))
        if token.type == "NEWLINE" and previous is not None and previous.type not in _TEMPLATE and rng.random() < 0.1:
            spaces = " " * rng.randint(1, 3)
        body = token.text
        if crlf and token.type == "NEWLINE":
            body = "\r\n"
        out.append(spaces + body)
        previous = token
    return "".join(out)


def _can_join(left, right) -> bool:  # type: ignore[no-untyped-def]
    if left is None or left.type == "COMMENT" or right.type in ("COMMENT", "NEWLINE"):
        return False
    if left.type in _WORDISH and right.type in _WORDISH:
        return False
    if left.type == "IDENT" and right.text[:1] in "-.":
        return False
    if left.type == "NUMBER" and right.text[:1] in ".eE":
        return False
    return (left.text[-1:] + right.text[:1]) not in _JOINS
