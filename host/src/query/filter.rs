//! The filter language: `field op value`, joined with `AND` (binds tighter) and `OR`, grouped with
//! parentheses. Ops: `= != > >= < <= ~=` (`~=` contains, case-insensitive). Values are double-quoted
//! strings (kept as strings), `null`, or bare words coerced by the field's type. Errors point at a column.

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `~=`: contains, case-insensitive.
    Contains,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Contains => "~=",
        })
    }
}

/// A value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// A double-quoted string.
    Quoted(String),
    /// A bare word (number, boolean, `null`, date, …).
    Bare(String),
}

/// A parsed filter, before its fields are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawExpr {
    /// Any of these.
    Or(Vec<RawExpr>),
    /// All of these.
    And(Vec<RawExpr>),
    /// `field op value`.
    Compare {
        /// The dotted field path as written.
        field: String,
        /// Its column (1-based) in the filter.
        column: usize,
        /// The operator.
        op: Op,
        /// The value.
        value: RawValue,
    },
}

/// A syntax error: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based column.
    pub column: usize,
    /// What was expected or wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    LParen,
    RParen,
    Op(Op),
    And,
    Or,
    Word(String),
    Quoted(String),
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::LParen => "`(`".into(),
            Token::RParen => "`)`".into(),
            Token::Op(op) => format!("`{op}`"),
            Token::And => "`AND`".into(),
            Token::Or => "`OR`".into(),
            Token::Word(w) => format!("`{w}`"),
            Token::Quoted(q) => format!("\"{q}\""),
            Token::End => "the end of the filter".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, SyntaxError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let column = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let (token, width) = match (c, two.as_str()) {
            ('(', _) => (Token::LParen, 1),
            (')', _) => (Token::RParen, 1),
            (_, "~=") => (Token::Op(Op::Contains), 2),
            (_, "!=") => (Token::Op(Op::Ne), 2),
            (_, ">=") => (Token::Op(Op::Ge), 2),
            (_, "<=") => (Token::Op(Op::Le), 2),
            ('=', _) => (Token::Op(Op::Eq), 1),
            ('>', _) => (Token::Op(Op::Gt), 1),
            ('<', _) => (Token::Op(Op::Lt), 1),
            ('!' | '~', _) => return Err(SyntaxError { column, message: format!("`{c}` must be followed by `=`") }),
            ('"', _) => {
                let mut value = String::new();
                let mut j = i + 1;
                loop {
                    match chars.get(j) {
                        None => return Err(SyntaxError { column, message: "this string is never closed".into() }),
                        Some('"') => break,
                        Some('\\') if j + 1 < chars.len() => {
                            value.push(chars[j + 1]);
                            j += 2;
                        }
                        Some(ch) => {
                            value.push(*ch);
                            j += 1;
                        }
                    }
                }
                (Token::Quoted(value), j + 1 - i)
            }
            _ => {
                let mut j = i;
                while j < chars.len() && !chars[j].is_whitespace() && !"()=!<>~\"".contains(chars[j]) {
                    j += 1;
                }
                let word: String = chars[i..j].iter().collect();
                let token = match word.to_ascii_uppercase().as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    _ => Token::Word(word),
                };
                (token, j - i)
            }
        };
        tokens.push((token, column));
        i += width;
    }
    tokens.push((Token::End, chars.len() + 1));
    Ok(tokens)
}

/// The longest filter (or `--match` words) accepted, in characters.
pub(crate) const MAX_CHARS: usize = 10_000;
/// The most comparisons a filter may hold (each becomes a term of the query, and SQLite bounds how
/// deep an expression may go).
const MAX_COMPARISONS: usize = 200;

/// Parses a filter.
pub fn parse(text: &str) -> Result<RawExpr, SyntaxError> {
    let length = text.chars().count();
    if length > MAX_CHARS {
        return Err(SyntaxError {
            column: MAX_CHARS + 1,
            message: format!("the filter is longer than {MAX_CHARS} characters"),
        });
    }
    let tokens = tokenize(text)?;
    if let Some(&(_, column)) = tokens.iter().filter(|(t, _)| matches!(t, Token::Op(_))).nth(MAX_COMPARISONS) {
        return Err(SyntaxError { column, message: format!("more than {MAX_COMPARISONS} comparisons") });
    }
    let mut parser = Parser { tokens, position: 0, depth: 0 };
    if parser.peek().0 == Token::End {
        return Err(SyntaxError { column: 1, message: "the filter is empty".into() });
    }
    let expr = parser.or()?;
    match parser.peek() {
        (Token::End, _) => Ok(expr),
        (Token::RParen, column) => Err(SyntaxError { column, message: "`)` without a matching `(`".into() }),
        (token, column) => {
            Err(SyntaxError { column, message: format!("expected `AND`, `OR` or the end, found {}", token.describe()) })
        }
    }
}

/// The deepest nesting of parentheses accepted: the parser recurses once per level, and no filter a
/// person writes needs more.
const MAX_NESTING: usize = 64;

struct Parser {
    tokens: Vec<(Token, usize)>,
    position: usize,
    /// Parentheses open around the current position.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> (Token, usize) {
        self.tokens[self.position].clone()
    }

    fn next(&mut self) -> (Token, usize) {
        let token = self.peek();
        if self.position + 1 < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn or(&mut self) -> Result<RawExpr, SyntaxError> {
        let mut terms = vec![self.and()?];
        while self.peek().0 == Token::Or {
            self.next();
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { RawExpr::Or(terms) })
    }

    fn and(&mut self) -> Result<RawExpr, SyntaxError> {
        let mut terms = vec![self.primary()?];
        while self.peek().0 == Token::And {
            self.next();
            terms.push(self.primary()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { RawExpr::And(terms) })
    }

    fn primary(&mut self) -> Result<RawExpr, SyntaxError> {
        match self.next() {
            (Token::LParen, column) => {
                if self.depth == MAX_NESTING {
                    let message = format!("parentheses nested more than {MAX_NESTING} deep");
                    return Err(SyntaxError { column, message });
                }
                self.depth += 1;
                let inner = self.or()?;
                self.depth -= 1;
                match self.next() {
                    (Token::RParen, _) => Ok(inner),
                    (token, at) => Err(SyntaxError {
                        column: at,
                        message: format!(
                            "expected `)` to close the `(` at column {column}, found {}",
                            token.describe()
                        ),
                    }),
                }
            }
            (Token::Word(field), column) => {
                let op = match self.next() {
                    (Token::Op(op), _) => op,
                    (token, at) => {
                        return Err(SyntaxError {
                            column: at,
                            message: format!(
                                "expected an operator (= != > >= < <= ~=) after `{field}`, found {}",
                                token.describe()
                            ),
                        });
                    }
                };
                let value = match self.next() {
                    (Token::Quoted(v), _) => RawValue::Quoted(v),
                    (Token::Word(v), _) => RawValue::Bare(v),
                    (token, at) => {
                        return Err(SyntaxError {
                            column: at,
                            message: format!("expected a value after `{op}`, found {}", token.describe()),
                        });
                    }
                };
                Ok(RawExpr::Compare { field, column, op, value })
            }
            (token, column) => {
                Err(SyntaxError { column, message: format!("expected a field name, found {}", token.describe()) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(field: &str, column: usize, op: Op, value: &str) -> RawExpr {
        RawExpr::Compare { field: field.into(), column, op, value: RawValue::Bare(value.into()) }
    }

    #[test]
    fn nesting_is_bounded_not_a_stack_overflow() {
        let nested = |depth: usize| format!("{}a = 1{}", "(".repeat(depth), ")".repeat(depth));
        assert!(parse(&nested(MAX_NESTING)).is_ok());
        let error = parse(&nested(1000)).unwrap_err();
        assert_eq!((error.column, error.message.as_str()), (MAX_NESTING + 1, "parentheses nested more than 64 deep"));
        let error = parse(&nested(100_000)).unwrap_err();
        assert_eq!(error.message, "the filter is longer than 10000 characters");
    }

    #[test]
    fn comparisons_are_bounded() {
        let terms = |n: usize| (0..n).map(|i| format!("a = {i}")).collect::<Vec<_>>().join(" or ");
        assert!(parse(&terms(MAX_COMPARISONS)).is_ok());
        assert_eq!(parse(&terms(MAX_COMPARISONS + 1)).unwrap_err().message, "more than 200 comparisons");
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let parsed = parse("a = 1 OR b = 2 AND c = 3").unwrap();
        let expected = RawExpr::Or(vec![
            cmp("a", 1, Op::Eq, "1"),
            RawExpr::And(vec![cmp("b", 10, Op::Eq, "2"), cmp("c", 20, Op::Eq, "3")]),
        ]);
        assert_eq!(parsed, expected);
    }

    #[test]
    fn parentheses_group() {
        let parsed = parse("(a = 1 or b = 2) and c ~= x").unwrap();
        let expected = RawExpr::And(vec![
            RawExpr::Or(vec![cmp("a", 2, Op::Eq, "1"), cmp("b", 11, Op::Eq, "2")]),
            cmp("c", 22, Op::Contains, "x"),
        ]);
        assert_eq!(parsed, expected);
    }

    #[test]
    fn every_operator_and_quoted_strings() {
        for (text, op) in [
            ("=", Op::Eq),
            ("!=", Op::Ne),
            (">", Op::Gt),
            (">=", Op::Ge),
            ("<", Op::Lt),
            ("<=", Op::Le),
            ("~=", Op::Contains),
        ] {
            let parsed = parse(&format!("title{text}\"a \\\"b\\\" c\"")).unwrap();
            assert_eq!(
                parsed,
                RawExpr::Compare { field: "title".into(), column: 1, op, value: RawValue::Quoted("a \"b\" c".into()) }
            );
        }
    }

    #[test]
    fn errors_point_at_the_column() {
        assert_eq!(parse("state = ").unwrap_err().column, 9);
        assert_eq!(parse("state = \"Todo\" AND").unwrap_err().column, 19);
        assert_eq!(
            parse("(a = 1").unwrap_err().message,
            "expected `)` to close the `(` at column 1, found the end of the filter"
        );
        assert_eq!(parse("a = 1)").unwrap_err().column, 6);
        assert_eq!(parse("a 1").unwrap_err().column, 3);
        assert_eq!(parse("a = \"open").unwrap_err().message, "this string is never closed");
        assert_eq!(parse("").unwrap_err().message, "the filter is empty");
    }

    /// An expression written back as filter text (fully parenthesised).
    fn write(expr: &RawExpr) -> String {
        match expr {
            RawExpr::Or(terms) => format!("({})", terms.iter().map(write).collect::<Vec<_>>().join(" OR ")),
            RawExpr::And(terms) => format!("({})", terms.iter().map(write).collect::<Vec<_>>().join(" and ")),
            RawExpr::Compare { field, op, value, .. } => match value {
                RawValue::Quoted(text) => {
                    format!("{field} {op} \"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
                }
                RawValue::Bare(word) => format!("{field} {op} {word}"),
            },
        }
    }

    /// The expression without columns, and with single-term groups unwrapped, as parsing yields them.
    fn shape(expr: &RawExpr) -> RawExpr {
        match expr {
            RawExpr::Or(terms) | RawExpr::And(terms) if terms.len() == 1 => shape(&terms[0]),
            RawExpr::Or(terms) => RawExpr::Or(terms.iter().map(shape).collect()),
            RawExpr::And(terms) => RawExpr::And(terms.iter().map(shape).collect()),
            RawExpr::Compare { field, op, value, .. } => {
                RawExpr::Compare { field: field.clone(), column: 0, op: *op, value: value.clone() }
            }
        }
    }

    fn is_keyword(word: &str) -> bool {
        matches!(word.to_ascii_lowercase().as_str(), "and" | "or")
    }

    fn expression() -> impl proptest::strategy::Strategy<Value = RawExpr> {
        use proptest::prelude::*;
        let op = prop_oneof![
            Just(Op::Eq),
            Just(Op::Ne),
            Just(Op::Gt),
            Just(Op::Ge),
            Just(Op::Lt),
            Just(Op::Le),
            Just(Op::Contains)
        ];
        let value = prop_oneof![
            "[^\"\\\\]{0,8}".prop_map(RawValue::Quoted),
            "[a-z0-9][a-z0-9.:-]{0,6}".prop_filter("not a keyword", |w| !is_keyword(w)).prop_map(RawValue::Bare),
        ];
        let field =
            "[a-z][a-zA-Z0-9_]{0,5}(\\.[a-z][a-zA-Z0-9_]{0,5})?".prop_filter("not a keyword", |f| !is_keyword(f));
        let compare =
            (field, op, value).prop_map(|(field, op, value)| RawExpr::Compare { field, column: 0, op, value });
        compare.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 2..4).prop_map(RawExpr::Or),
                proptest::collection::vec(inner, 2..4).prop_map(RawExpr::And),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Any text parses or gets an error pointing inside it (or just past its end): never a panic.
        #[test]
        fn any_text_parses_or_gets_an_error_with_a_column(text in ".{0,40}") {
            if let Err(error) = parse(&text) {
                proptest::prop_assert!(error.column >= 1 && error.column <= text.chars().count() + 1);
            }
        }

        /// A filter written from an expression parses back to that expression.
        #[test]
        fn written_filters_parse_back_to_what_they_say(expr in expression()) {
            let text = write(&expr);
            let parsed = parse(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{text}: {e:?}")))?;
            proptest::prop_assert_eq!(shape(&parsed), shape(&expr), "{}", text);
        }
    }
}
