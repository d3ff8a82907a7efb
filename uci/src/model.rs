//! The parsed representation: packages, sections, options, with positions.

/// Where an element starts: 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Single(String),
    List(Vec<String>),
}

impl Value {
    /// The value of a plain option (`None` for a list).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Single(s) => Some(s),
            Value::List(_) => None,
        }
    }

    /// Every value: one for a plain option, all for a list.
    pub fn items(&self) -> Vec<&str> {
        match self {
            Value::Single(s) => vec![s.as_str()],
            Value::List(l) => l.iter().map(String::as_str).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub name: String,
    pub value: Value,
    /// Where the option (or the list's last item) was given.
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The section type (`config TYPE`).
    pub kind: String,
    /// `None` for an anonymous section.
    pub name: Option<String>,
    pub options: Vec<Opt>,
    pub pos: Pos,
}

impl Section {
    pub fn new(kind: &str, name: Option<&str>) -> Section {
        Section {
            kind: kind.to_string(),
            name: name.map(str::to_string),
            options: Vec::new(),
            pos: Pos::default(),
        }
    }

    pub fn option(&self, name: &str) -> Option<&Opt> {
        self.options.iter().find(|o| o.name == name)
    }

    /// A plain option's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.option(name).and_then(|o| o.value.as_str())
    }

    /// Sets a plain option (replacing a list of that name) where it stands.
    /// An empty value changes nothing, as in libuci's parser.
    pub fn set(&mut self, name: &str, value: &str, pos: Pos) {
        if value.is_empty() {
            return;
        }
        match self.options.iter_mut().find(|o| o.name == name) {
            Some(o) => {
                o.value = Value::Single(value.to_string());
                o.pos = pos;
            }
            None => self.options.push(Opt {
                name: name.to_string(),
                value: Value::Single(value.to_string()),
                pos,
            }),
        }
    }

    /// Appends to a list (a plain option of that name becomes its first item).
    pub fn add_list(&mut self, name: &str, value: &str, pos: Pos) {
        match self.options.iter_mut().find(|o| o.name == name) {
            Some(o) => {
                let mut items = match std::mem::replace(&mut o.value, Value::List(Vec::new())) {
                    Value::Single(s) => vec![s],
                    Value::List(l) => l,
                };
                items.push(value.to_string());
                o.value = Value::List(items);
                o.pos = pos;
            }
            None => self.options.push(Opt {
                name: name.to_string(),
                value: Value::List(vec![value.to_string()]),
                pos,
            }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub sections: Vec<Section>,
}

impl Package {
    pub fn new(name: &str) -> Package {
        Package {
            name: name.to_string(),
            sections: Vec::new(),
        }
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
    }

    /// Sections of one type, in file order.
    pub fn sections_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Section> + 'a {
        self.sections.iter().filter(move |s| s.kind == kind)
    }

    /// How `uci show` names a section: its name, or `@type[N]` for the N-th
    /// (0-based) section of its type when anonymous.
    pub fn section_ref(&self, index: usize) -> String {
        let s = &self.sections[index];
        match &s.name {
            Some(name) => name.clone(),
            None => {
                let n = self.sections[..index]
                    .iter()
                    .filter(|o| o.kind == s.kind)
                    .count();
                format!("@{}[{n}]", s.kind)
            }
        }
    }
}
