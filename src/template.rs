//! ROS templates and Properties files: what an `ALIYUN::ECS::CopyImage` resource asks for.
//!
//! `--template FILE` runs the CopyImage resource of a ROS template; `--properties FILE` reads a
//! bare `Properties` mapping. Either file may be JSON or YAML: both are parsed into one
//! `serde_json::Value` and read by the same code.
//!
//! ```text
//! text ─ JSON if it starts with '{', else YAML ─▶ Value (must be a mapping)
//! template: ROSTemplateFormatVersion? Parameters? Resources ─ the CopyImage resource (--resource)
//! Properties ─ {"Ref": P} → --parameter P, else P's Default, else unset ─▶ CopyProperties
//! ```
//!
//! The result holds plain strings and booleans. Their values are not judged here (lengths, id
//! shapes): the caller runs them through the same validators as the command-line flags. Only
//! the structure is checked, strictly: an unknown property, section or resource attribute, or a
//! function the tool cannot evaluate, is an error rather than something silently skipped.
//!
//! Pure functions: no file or network I/O, and no input makes them panic.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// The ROS resource type this tool runs.
pub const COPY_IMAGE_TYPE: &str = "ALIYUN::ECS::CopyImage";

/// The only `ROSTemplateFormatVersion` there is.
pub const FORMAT_VERSION: &str = "2015-09-01";

/// What one CopyImage resource (or a bare Properties object) says. `None` = not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyProperties {
    /// Where the values came from, for messages: e.g. "resource 'CopyImage' of template.yaml" or "properties.json".
    pub origin: String,
    pub image_id: Option<String>,
    pub source_region_id: Option<String>,
    pub destination_region_id: Option<String>,
    pub destination_image_name: Option<String>,
    pub destination_description: Option<String>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    /// In template order.
    pub tags: Option<Vec<(String, String)>>,
    pub resource_group_id: Option<String>,
    pub allow_copy_in_same_region: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct TemplateError {
    pub file: String,
    pub problem: String,
}

/// The properties of the resource, each with the flag that gives the same value (for the
/// advice when a template uses what the tool cannot evaluate).
const PROPERTIES: [(&str, Option<&str>); 10] = [
    ("ImageId", Some("--image-id")),
    ("SourceRegionId", Some("--source-region")),
    ("DestinationRegionId", Some("--destination-region")),
    ("DestinationImageName", Some("--destination-image-name")),
    ("DestinationDescription", Some("--destination-description")),
    ("Encrypted", Some("--encrypted or --no-encrypted")),
    ("KMSKeyId", Some("--kms-key-id")),
    ("Tag", Some("--tag")),
    ("ResourceGroupId", Some("--resource-group-id")),
    ("AllowCopyInSameRegion", None),
];

/// Template sections that are read, and those that may be present but do not matter here.
const READ_SECTIONS: [&str; 3] = ["ROSTemplateFormatVersion", "Parameters", "Resources"];
const IGNORED_SECTIONS: [&str; 5] = [
    "Description",
    "Metadata",
    "Conditions",
    "Mappings",
    "Outputs",
];

const PARAMETER_TYPES: [&str; 5] = ["String", "Number", "Boolean", "Json", "CommaDelimitedList"];

/// `--template FILE`: a ROS template (JSON or YAML). `parameters` are the `--parameter KEY=VALUE`
/// pairs in command-line order; `resource` is `--resource LOGICAL_ID`.
pub fn from_template(
    file: &str,
    text: &str,
    parameters: &[(String, String)],
    resource: Option<&str>,
) -> Result<CopyProperties, TemplateError> {
    let fail = |problem: String| TemplateError {
        file: file.to_owned(),
        problem,
    };
    let root = parse(text).map_err(fail)?;
    let top = top_mapping(&root, "a ROS template: a mapping with Resources").map_err(fail)?;
    read_template(file, top, parameters, resource).map_err(fail)
}

/// `--properties FILE`: a bare `Properties` object (JSON or YAML); no parameters, so a `Ref` is an error.
pub fn from_properties(file: &str, text: &str) -> Result<CopyProperties, TemplateError> {
    let fail = |problem: String| TemplateError {
        file: file.to_owned(),
        problem,
    };
    let root = parse(text).map_err(fail)?;
    let top = top_mapping(
        &root,
        "the Properties of an ALIYUN::ECS::CopyImage resource",
    )
    .map_err(fail)?;
    if top.contains_key("Resources") || top.contains_key("ROSTemplateFormatVersion") {
        return Err(fail(
            "this is a ROS template, not a bare Properties mapping: give it with --template".into(),
        ));
    }
    if top.contains_key("Type") && top.contains_key("Properties") {
        return Err(fail(
            "this is a whole resource (Type and Properties): the file must hold only the mapping \
             under Properties"
                .into(),
        ));
    }
    let mut properties = read_properties(Some(top), None).map_err(fail)?;
    properties.origin = file.to_owned();
    Ok(properties)
}

/// JSON when the text starts with `{` (after white space and a byte order mark), else YAML.
fn parse(text: &str) -> Result<Value, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        return serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"));
    }
    serde_norway::from_str::<Value>(text).map_err(|e| {
        let mut message = format!("invalid YAML: {e}");
        if let Some(at) = e.location() {
            if !message.contains(" line ") {
                message += &format!(" at line {} column {}", at.line(), at.column());
            }
        }
        if message.contains("invalid type: enum") {
            message += " (YAML tags such as !Ref are not supported: write `Ref: NAME`)";
        }
        message
    })
}

fn top_mapping<'a>(root: &'a Value, what: &str) -> Result<&'a Map<String, Value>, String> {
    match root {
        Value::Object(top) => Ok(top),
        Value::Null => Err(format!("the file is empty; it must hold {what}")),
        other => Err(format!(
            "the top level must be {what}, but it is {}",
            describe(other)
        )),
    }
}

fn read_template(
    file: &str,
    top: &Map<String, Value>,
    given: &[(String, String)],
    resource: Option<&str>,
) -> Result<CopyProperties, String> {
    if let Some(section) = top
        .keys()
        .find(|k| !READ_SECTIONS.contains(&k.as_str()) && !IGNORED_SECTIONS.contains(&k.as_str()))
    {
        return Err(format!(
            "unsupported template section {}: copy-image reads {} and ignores {}",
            quote(section),
            READ_SECTIONS.join(", "),
            IGNORED_SECTIONS.join(", ")
        ));
    }
    if let Some(version) = top.get("ROSTemplateFormatVersion") {
        if version.as_str() != Some(FORMAT_VERSION) {
            return Err(format!(
                "ROSTemplateFormatVersion must be '{FORMAT_VERSION}', but it is {}",
                describe(version)
            ));
        }
    }
    let parameters = Parameters::new(top.get("Parameters"), given)?;
    let (id, body) = pick_resource(top.get("Resources"), resource)?;
    let properties = resource_properties(id, body)?;
    let mut out = read_properties(properties, Some(&parameters))
        .map_err(|e| format!("resource {}: {e}", quote(id)))?;
    out.origin = format!("resource {} of {file}", quote(id));
    Ok(out)
}

/// The CopyImage resource to run: the one `--resource` names, else the only resource.
fn pick_resource<'a>(
    section: Option<&'a Value>,
    wanted: Option<&str>,
) -> Result<(&'a str, &'a Map<String, Value>), String> {
    let resources = match section {
        Some(Value::Object(resources)) => resources,
        None => return Err("the template has no Resources section".into()),
        Some(other) => {
            return Err(format!(
                "Resources must be a mapping of logical ids to resources, but it is {}",
                describe(other)
            ))
        }
    };
    if let Some(wanted) = wanted {
        let Some((id, body)) = resources.iter().find(|(id, _)| *id == wanted) else {
            return Err(format!(
                "--resource {}: the template has no such resource (its resources: {})",
                quote(wanted),
                list(resources.keys())
            ));
        };
        let (body, kind) = resource_type(id, body)?;
        if kind != COPY_IMAGE_TYPE {
            return Err(format!(
                "--resource {}: the resource is of type {}, not {COPY_IMAGE_TYPE}",
                quote(wanted),
                quote(kind)
            ));
        }
        return Ok((id, body));
    }
    let mut copies = Vec::new();
    let mut others = Vec::new();
    for (id, body) in resources {
        let (body, kind) = resource_type(id, body)?;
        if kind == COPY_IMAGE_TYPE {
            copies.push((id.as_str(), body));
        } else {
            others.push(format!("{} ({})", quote(id), kind.escape_debug()));
        }
    }
    let copy_ids = || list(copies.iter().map(|(id, _)| id));
    match copies.as_slice() {
        [] if others.is_empty() => Err(format!(
            "the template has no {COPY_IMAGE_TYPE} resource (Resources is empty)"
        )),
        [] => Err(format!(
            "the template has no {COPY_IMAGE_TYPE} resource (its resources: {})",
            others.join(", ")
        )),
        _ if !others.is_empty() => Err(format!(
            "copy-image runs only {COPY_IMAGE_TYPE} resources, but the template also has {}: \
             pick the one to run with --resource ({})",
            others.join(", "),
            copy_ids()
        )),
        [only] => Ok(*only),
        _ => Err(format!(
            "the template has several {COPY_IMAGE_TYPE} resources ({}): pick one with --resource",
            copy_ids()
        )),
    }
}

fn resource_type<'a>(
    id: &str,
    body: &'a Value,
) -> Result<(&'a Map<String, Value>, &'a str), String> {
    let Value::Object(body) = body else {
        return Err(format!(
            "resource {} must be a mapping with Type and Properties, but it is {}",
            quote(id),
            describe(body)
        ));
    };
    match body.get("Type") {
        Some(Value::String(kind)) => Ok((body, kind)),
        None => Err(format!("resource {} has no Type", quote(id))),
        Some(other) => Err(format!(
            "the Type of resource {} must be a string, but it is {}",
            quote(id),
            describe(other)
        )),
    }
}

/// The Properties of the chosen resource, after checking its other attributes.
fn resource_properties<'a>(
    id: &str,
    body: &'a Map<String, Value>,
) -> Result<Option<&'a Map<String, Value>>, String> {
    for (key, value) in body {
        match key.as_str() {
            "Type" | "Properties" | "DependsOn" | "DeletionPolicy" | "Metadata" => {}
            "Condition" => {
                return Err(format!(
                    "resource {} has the Condition {}, which copy-image does not evaluate: \
                     remove it to run the resource",
                    quote(id),
                    describe(value)
                ))
            }
            other => {
                return Err(format!(
                    "resource {} has the attribute {}, which copy-image does not support (it reads \
                     Type and Properties, and ignores DependsOn, DeletionPolicy and Metadata)",
                    quote(id),
                    quote(other)
                ))
            }
        }
    }
    match body.get("Properties") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(properties)) => Ok(Some(properties)),
        Some(other) => Err(format!(
            "the Properties of resource {} must be a mapping, but they are {}",
            quote(id),
            describe(other)
        )),
    }
}

/// The declared parameters of a template and the values given with `--parameter`.
struct Parameters<'a> {
    declared: Option<&'a Map<String, Value>>,
    /// The last value given for each name.
    given: BTreeMap<&'a str, &'a str>,
}

/// Where a parameter's value comes from.
enum Raw<'a> {
    Given(&'a str),
    Default(&'a Value),
}

impl Raw<'_> {
    /// The value as text, when it is text (a given value, or a string Default).
    fn text(&self) -> Option<&str> {
        match self {
            Raw::Given(s) => Some(s),
            Raw::Default(Value::String(s)) => Some(s),
            Raw::Default(_) => None,
        }
    }

    fn origin(&self) -> &'static str {
        match self {
            Raw::Given(_) => "given with --parameter",
            Raw::Default(_) => "its Default",
        }
    }

    fn shown(&self) -> String {
        match self {
            Raw::Given(s) => quote(s),
            Raw::Default(v) => quote(&as_text(v)),
        }
    }
}

impl<'a> Parameters<'a> {
    /// Checks the declarations and every `--parameter` (declared, and its value fits).
    fn new(section: Option<&'a Value>, given: &'a [(String, String)]) -> Result<Self, String> {
        let declared = match section {
            None | Some(Value::Null) => None,
            Some(Value::Object(declared)) => Some(declared),
            Some(other) => {
                return Err(format!(
                    "Parameters must be a mapping of parameter names to declarations, but it is {}",
                    describe(other)
                ))
            }
        };
        for (name, declaration) in declared.into_iter().flatten() {
            let Value::Object(declaration) = declaration else {
                return Err(format!(
                    "parameter {} must be a mapping with a Type, but it is {}",
                    quote(name),
                    describe(declaration)
                ));
            };
            match declaration.get("Type") {
                Some(Value::String(_)) => {}
                None => return Err(format!("parameter {} has no Type", quote(name))),
                Some(other) => {
                    return Err(format!(
                        "the Type of parameter {} must be a string, but it is {}",
                        quote(name),
                        describe(other)
                    ))
                }
            }
        }
        let mut undeclared: Vec<&str> = Vec::new();
        let mut values = BTreeMap::new();
        for (name, value) in given {
            if !declared.is_some_and(|d| d.contains_key(name))
                && !undeclared.contains(&name.as_str())
            {
                undeclared.push(name);
            }
            values.insert(name.as_str(), value.as_str());
        }
        let parameters = Self {
            declared,
            given: values,
        };
        if !undeclared.is_empty() {
            return Err(format!(
                "--parameter {} {} not declared in the template's Parameters ({})",
                list(&undeclared),
                if undeclared.len() == 1 { "is" } else { "are" },
                parameters.declared_names()
            ));
        }
        for (name, _) in given {
            parameters.value(name)?;
        }
        Ok(parameters)
    }

    fn declares(&self, name: &str) -> bool {
        self.declared.is_some_and(|d| d.contains_key(name))
    }

    fn declared_names(&self) -> String {
        match self.declared {
            Some(d) if !d.is_empty() => format!("it declares {}", list(d.keys())),
            _ => "it declares none".into(),
        }
    }

    /// The value of a declared parameter, typed; `None` when it is neither given nor defaulted.
    fn value(&self, name: &str) -> Result<Option<Value>, String> {
        let Some(declaration) = self
            .declared
            .and_then(|d| d.get(name))
            .and_then(Value::as_object)
        else {
            return Err(format!(
                "{} is not a parameter of the template ({})",
                quote(name),
                self.declared_names()
            ));
        };
        let kind = declaration
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !PARAMETER_TYPES.contains(&kind) {
            return Err(format!(
                "parameter {} has the Type {}, which copy-image does not support ({})",
                quote(name),
                quote(kind),
                PARAMETER_TYPES.join(", ")
            ));
        }
        let raw = match (self.given.get(name), declaration.get("Default")) {
            (Some(given), _) => Raw::Given(given),
            (None, Some(default)) if !default.is_null() => Raw::Default(default),
            _ => return Ok(None),
        };
        if let Some(allowed) = declaration.get("AllowedValues") {
            check_allowed(name, kind, &raw, allowed)?;
        }
        let Some(text) = raw.text() else {
            // A Default that is already a number, boolean, list or mapping is taken as it is.
            return Ok(declaration.get("Default").cloned());
        };
        let wrong = |what: &str| {
            format!(
                "parameter {} is of Type {kind}, but its value {} ({}) is not {what}",
                quote(name),
                raw.shown(),
                raw.origin()
            )
        };
        Ok(Some(match kind {
            "Number" => match text.parse::<f64>() {
                Ok(n) if n.is_finite() => Value::String(text.to_owned()),
                _ => return Err(wrong("a number")),
            },
            "Boolean" => Value::Bool(parse_bool(text).ok_or_else(|| wrong("true or false"))?),
            "Json" => serde_json::from_str(text).map_err(|e| format!("{}: {e}", wrong("JSON")))?,
            "CommaDelimitedList" => Value::Array(
                text.split(',')
                    .map(|item| Value::String(item.to_owned()))
                    .collect(),
            ),
            _ => Value::String(text.to_owned()),
        }))
    }
}

/// `AllowedValues`, compared as strings (each item of a CommaDelimitedList on its own).
fn check_allowed(name: &str, kind: &str, raw: &Raw, allowed: &Value) -> Result<(), String> {
    let Value::Array(allowed) = allowed else {
        return Err(format!(
            "the AllowedValues of parameter {} must be a list, but they are {}",
            quote(name),
            describe(allowed)
        ));
    };
    let allowed: Vec<String> = allowed.iter().map(as_text).collect();
    let whole = match raw {
        Raw::Given(s) => (*s).to_owned(),
        Raw::Default(v) => as_text(v),
    };
    let items: Vec<&str> = match raw.text() {
        Some(text) if kind == "CommaDelimitedList" => text.split(',').collect(),
        _ => vec![whole.as_str()],
    };
    match items
        .into_iter()
        .find(|item| !allowed.iter().any(|a| a == item))
    {
        None => Ok(()),
        Some(item) => Err(format!(
            "the value {} of parameter {} ({}) is not one of its AllowedValues: {}",
            quote(item),
            quote(name),
            raw.origin(),
            if allowed.is_empty() {
                "the list is empty".to_owned()
            } else {
                list(&allowed)
            }
        )),
    }
}

/// Reads a Properties mapping; `parameters` is `None` for a bare Properties file.
fn read_properties(
    properties: Option<&Map<String, Value>>,
    parameters: Option<&Parameters>,
) -> Result<CopyProperties, String> {
    let mut out = CopyProperties::default();
    for (name, value) in properties.into_iter().flatten() {
        let Some((name, _)) = PROPERTIES.iter().find(|(known, _)| known == name) else {
            return Err(unknown_property(name));
        };
        if let Some(value) = expand(value, name, parameters, true)? {
            set(&mut out, name, &value)?;
        }
    }
    Ok(out)
}

fn unknown_property(name: &str) -> String {
    let suggestion = PROPERTIES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(known, _)| format!(" (did you mean '{known}'?)"))
        .unwrap_or_default();
    format!(
        "unknown property {}{suggestion}; {COPY_IMAGE_TYPE} has {}",
        quote(name),
        PROPERTIES.map(|(known, _)| known).join(", ")
    )
}

/// Replaces each `{"Ref": P}` by the value of parameter P. `Ok(None)`: the whole property is a
/// `Ref` to a parameter without a value, so the property is unset.
fn expand(
    value: &Value,
    property: &str,
    parameters: Option<&Parameters>,
    whole: bool,
) -> Result<Option<Value>, String> {
    match value {
        Value::Object(m) => {
            if let Some(function) = m.keys().find(|k| k.starts_with("Fn::")) {
                return Err(format!(
                    "property '{property}' uses the function {}, which copy-image does not \
                     evaluate: write the value itself{}",
                    quote(function),
                    instead(property, ", or pass it with --parameter")
                ));
            }
            if let Some(target) = m.get("Ref") {
                if let Some(other) = m.keys().find(|k| *k != "Ref") {
                    return Err(format!(
                        "property '{property}': a Ref must be alone in its mapping, but {} is beside it",
                        quote(other)
                    ));
                }
                let Value::String(target) = target else {
                    return Err(format!(
                        "property '{property}': Ref must name a parameter, but it is {}",
                        describe(target)
                    ));
                };
                return match resolve(target, property, parameters)? {
                    Some(value) => Ok(Some(value)),
                    None if whole => Ok(None),
                    None => Err(format!(
                        "property '{property}' refers to parameter {}, which has no value: give \
                         --parameter {}=VALUE or a Default",
                        quote(target),
                        target.escape_debug()
                    )),
                };
            }
            let mut out = Map::new();
            for (key, item) in m {
                if let Some(item) = expand(item, property, parameters, false)? {
                    out.insert(key.clone(), item);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                if let Some(item) = expand(item, property, parameters, false)? {
                    out.push(item);
                }
            }
            Ok(Some(Value::Array(out)))
        }
        other => Ok(Some(other.clone())),
    }
}

/// The value a `Ref` in `property` stands for.
fn resolve(
    target: &str,
    property: &str,
    parameters: Option<&Parameters>,
) -> Result<Option<Value>, String> {
    if target.starts_with("ALIYUN::") {
        return Err(format!(
            "property '{property}' refers to the pseudo parameter {}, which copy-image does not \
             support (it runs no stack): write the value itself{}",
            quote(target),
            instead(property, "")
        ));
    }
    let Some(parameters) = parameters else {
        return Err(format!(
            "property '{property}' refers to {} (Ref), but a properties file has no parameters: \
             write the value itself, or use --template with a Parameters section",
            quote(target)
        ));
    };
    if !parameters.declares(target) {
        return Err(format!(
            "property '{property}' refers to {}, which is not declared in Parameters ({}; a Ref \
             to a resource is not supported)",
            quote(target),
            parameters.declared_names()
        ));
    }
    parameters.value(target)
}

/// ", or use FLAG instead" for a property that has a flag, else `otherwise`.
fn instead(property: &str, otherwise: &str) -> String {
    match PROPERTIES.iter().find(|(name, _)| *name == property) {
        Some((_, Some(flag))) => format!(", or use {flag} instead"),
        _ => otherwise.to_owned(),
    }
}

fn set(out: &mut CopyProperties, name: &str, value: &Value) -> Result<(), String> {
    let text = || text_property(name, value).map(Some);
    let boolean = || boolean_property(name, value).map(Some);
    match name {
        "ImageId" => out.image_id = text()?,
        "SourceRegionId" => out.source_region_id = text()?,
        "DestinationRegionId" => out.destination_region_id = text()?,
        "DestinationImageName" => out.destination_image_name = text()?,
        "DestinationDescription" => out.destination_description = text()?,
        "Encrypted" => out.encrypted = boolean()?,
        "KMSKeyId" => out.kms_key_id = text()?,
        "Tag" => out.tags = Some(tag_property(value)?),
        "ResourceGroupId" => out.resource_group_id = text()?,
        "AllowCopyInSameRegion" => out.allow_copy_in_same_region = boolean()?,
        _ => return Err(unknown_property(name)),
    }
    Ok(())
}

/// A String property: a string, or a number as its text.
fn text_property(name: &str, value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!(
            "property '{name}' must be a string, but it is {}",
            describe(other)
        )),
    }
}

/// A Boolean property: a boolean, or the string true or false in any case.
fn boolean_property(name: &str, value: &Value) -> Result<bool, String> {
    let parsed = match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => parse_bool(s),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!(
            "property '{name}' must be true or false, but it is {}",
            describe(value)
        )
    })
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `Tag`: a list of `{Key, Value}` mappings; a missing (or null) Value is an empty one.
fn tag_property(value: &Value) -> Result<Vec<(String, String)>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "property 'Tag' must be a list of mappings with Key and Value, but it is {}",
            describe(value)
        ));
    };
    let mut tags = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("property 'Tag', element {} of {}", i + 1, items.len());
        let Value::Object(tag) = item else {
            return Err(format!(
                "{at}: must be a mapping with Key and Value, but it is {}",
                describe(item)
            ));
        };
        if let Some(other) = tag.keys().find(|k| *k != "Key" && *k != "Value") {
            return Err(format!(
                "{at}: unknown key {} (a tag has Key and Value)",
                quote(other)
            ));
        }
        let key = match tag.get("Key") {
            Some(Value::String(key)) => key.clone(),
            None => return Err(format!("{at}: has no Key")),
            Some(other) => {
                return Err(format!(
                    "{at}: Key must be a string, but it is {}",
                    describe(other)
                ))
            }
        };
        let value = match tag.get("Value") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(value)) => value.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(format!(
                    "{at}: Value must be a string or a number, but it is {}",
                    describe(other)
                ))
            }
        };
        tags.push((key, value));
    }
    Ok(tags)
}

/// A value's kind, with the value itself when it is a scalar (in full, on one line).
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(_) => format!("a string ({value})"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// A value as the text it stands for: a string as it is, anything else as compact JSON.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `'name'`, with control characters and quotes escaped so that it stays on one line.
fn quote(s: &str) -> String {
    format!("'{}'", s.escape_debug())
}

fn list<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    items
        .into_iter()
        .map(|s| quote(s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const SEED_JSON: &str = include_str!("../tests/data/ros-copy-image.json");
    const SEED_YAML: &str = include_str!("../tests/data/ros-copy-image.yaml");

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const REQUIRED: [(&str, &str); 2] = [
        ("ImageId", "m-bp1h46wfpjsjastc0001"),
        ("DestinationRegionId", "cn-shanghai"),
    ];

    fn every_parameter() -> Vec<(String, String)> {
        params(&[
            ("ImageId", "m-bp1h46wfpjsjastc0001"),
            ("DestinationRegionId", "cn-shanghai"),
            ("DestinationImageName", "web-copy"),
            ("DestinationDescription", "Copied by CI"),
            ("Encrypted", "True"),
            ("KMSKeyId", "0e478b7a-4262-4802-b8cb-00d3fb40826e"),
            (
                "Tag",
                r#"[{"Key":"env","Value":"prod"},{"Key":"team","Value":"web"}]"#,
            ),
        ])
    }

    /// The problem of a template that must be refused.
    fn refused(text: &str, parameters: &[(&str, &str)], resource: Option<&str>) -> String {
        let e = from_template("t.yaml", text, &params(parameters), resource)
            .expect_err("the template should be refused");
        assert_eq!(e.file, "t.yaml");
        assert_eq!(e.to_string(), format!("t.yaml: {}", e.problem));
        e.problem
    }

    fn accepted(text: &str, parameters: &[(&str, &str)]) -> CopyProperties {
        from_template("t.yaml", text, &params(parameters), None)
            .unwrap_or_else(|e| panic!("the template should be accepted: {e}"))
    }

    /// A template with one CopyImage resource holding `properties`.
    fn with_properties(properties: Value) -> String {
        json!({
            "ROSTemplateFormatVersion": "2015-09-01",
            "Resources": {"Copy": {"Type": "ALIYUN::ECS::CopyImage", "Properties": properties}}
        })
        .to_string()
    }

    /// A template with one parameter `P` of `declaration`, used as `property`.
    fn with_parameter(declaration: Value, property: &str) -> String {
        json!({
            "Parameters": {"P": declaration},
            "Resources": {"Copy": {
                "Type": "ALIYUN::ECS::CopyImage",
                "Properties": {property: {"Ref": "P"}}
            }}
        })
        .to_string()
    }

    #[test]
    fn the_test_data_is_the_seed_examples() {
        assert!(SEED_JSON.starts_with("{\n  \"ROSTemplateFormatVersion\": \"2015-09-01\","));
        assert!(SEED_YAML.starts_with("ROSTemplateFormatVersion: '2015-09-01'\n"));
        assert!(SEED_YAML.contains("    Type: 'ALIYUN::ECS::CopyImage'\n"));
    }

    #[test]
    fn seed_examples_with_every_parameter() {
        let expected = CopyProperties {
            origin: "resource 'CopyImage' of ros-copy-image.json".into(),
            image_id: Some("m-bp1h46wfpjsjastc0001".into()),
            source_region_id: None,
            destination_region_id: Some("cn-shanghai".into()),
            destination_image_name: Some("web-copy".into()),
            destination_description: Some("Copied by CI".into()),
            encrypted: Some(true),
            kms_key_id: Some("0e478b7a-4262-4802-b8cb-00d3fb40826e".into()),
            tags: Some(vec![
                ("env".into(), "prod".into()),
                ("team".into(), "web".into()),
            ]),
            resource_group_id: None,
            allow_copy_in_same_region: None,
        };
        let json =
            from_template("ros-copy-image.json", SEED_JSON, &every_parameter(), None).unwrap();
        assert_eq!(json, expected);
        let yaml =
            from_template("ros-copy-image.yaml", SEED_YAML, &every_parameter(), None).unwrap();
        assert_eq!(yaml.origin, "resource 'CopyImage' of ros-copy-image.yaml");
        assert_eq!(
            CopyProperties {
                origin: json.origin.clone(),
                ..yaml
            },
            json
        );
    }

    #[test]
    fn seed_examples_with_only_the_required_parameters() {
        for (file, text) in [("a.json", SEED_JSON), ("a.yaml", SEED_YAML)] {
            let got = from_template(file, text, &params(&REQUIRED), None).unwrap();
            assert_eq!(
                got,
                CopyProperties {
                    origin: format!("resource 'CopyImage' of {file}"),
                    image_id: Some("m-bp1h46wfpjsjastc0001".into()),
                    destination_region_id: Some("cn-shanghai".into()),
                    ..CopyProperties::default()
                },
                "{file}"
            );
        }
    }

    #[test]
    fn seed_examples_in_any_case_of_encrypted() {
        for (value, expected) in [("true", true), ("False", false), ("false", false)] {
            let mut given = params(&REQUIRED);
            given.push(("Encrypted".into(), value.into()));
            for text in [SEED_JSON, SEED_YAML] {
                let got = from_template("t", text, &given, None).unwrap();
                assert_eq!(got.encrypted, Some(expected), "{value}");
            }
        }
    }

    #[test]
    fn allowed_values_refuse_other_values() {
        for text in [SEED_JSON, SEED_YAML] {
            let mut given = REQUIRED.to_vec();
            given.push(("Encrypted", "yes"));
            assert_eq!(
                refused(text, &given, None),
                "the value 'yes' of parameter 'Encrypted' (given with --parameter) is not one of \
                 its AllowedValues: 'True', 'true', 'False', 'false'"
            );
            // TRUE is a boolean, but not one of the values the template allows.
            given.pop();
            given.push(("Encrypted", "TRUE"));
            assert!(refused(text, &given, None).contains("'TRUE'"));
        }
    }

    #[test]
    fn allowed_values_apply_to_defaults_and_list_items() {
        let template = with_parameter(
            json!({"Type": "String", "Default": "c", "AllowedValues": ["a", "b"]}),
            "ImageId",
        );
        assert_eq!(
            refused(&template, &[], None),
            "resource 'Copy': the value 'c' of parameter 'P' (its Default) is not one of its \
             AllowedValues: 'a', 'b'"
        );
        assert_eq!(
            accepted(&template, &[("P", "b")]).image_id.as_deref(),
            Some("b")
        );
        let numbers = with_parameter(
            json!({"Type": "Number", "Default": 2, "AllowedValues": [1, 2]}),
            "ImageId",
        );
        assert_eq!(accepted(&numbers, &[]).image_id.as_deref(), Some("2"));
        assert!(refused(&numbers, &[("P", "3")], None).contains("AllowedValues: '1', '2'"));
        let list = with_parameter(
            json!({"Type": "CommaDelimitedList", "AllowedValues": ["a", "b"]}),
            "Tag",
        );
        let msg = refused(&list, &[("P", "a,c")], None);
        assert!(
            msg.starts_with("the value 'c' of parameter 'P' (given with --parameter)"),
            "{msg}"
        );
    }

    #[test]
    fn undeclared_parameters_are_named() {
        let msg = refused(
            SEED_YAML,
            &[
                ("ImageId", "m-1"),
                ("Region", "x"),
                ("Zone", "y"),
                ("Region", "z"),
            ],
            None,
        );
        assert!(
            msg.starts_with(
                "--parameter 'Region', 'Zone' are not declared in the template's Parameters"
            ),
            "{msg}"
        );
        assert!(msg.contains("'DestinationRegionId'"), "{msg}");
        let none = with_properties(json!({"ImageId": "m-1"}));
        assert_eq!(
            refused(&none, &[("ImageId", "m-2")], None),
            "--parameter 'ImageId' is not declared in the template's Parameters (it declares none)"
        );
    }

    #[test]
    fn a_parameter_given_twice_takes_the_last_value() {
        let mut given = params(&REQUIRED);
        given.push(("ImageId".into(), "m-second".into()));
        let got = from_template("t", SEED_JSON, &given, None).unwrap();
        assert_eq!(got.image_id.as_deref(), Some("m-second"));
    }

    #[test]
    fn number_parameters_must_be_numbers() {
        let template = with_parameter(json!({"Type": "Number"}), "DestinationDescription");
        assert_eq!(
            refused(&template, &[("P", "twelve")], None),
            "parameter 'P' is of Type Number, but its value 'twelve' (given with --parameter) is not a number"
        );
        assert!(refused(&template, &[("P", "NaN")], None).contains("not a number"));
        assert!(refused(&template, &[("P", "")], None).contains("not a number"));
        let got = accepted(&template, &[("P", "12.5")]);
        assert_eq!(got.destination_description.as_deref(), Some("12.5"));
        let default = with_parameter(json!({"Type": "Number", "Default": "x1"}), "ImageId");
        assert!(refused(&default, &[], None).contains("'x1' (its Default) is not a number"));
    }

    #[test]
    fn json_parameters_must_be_json() {
        let mut given = REQUIRED.to_vec();
        given.push(("Tag", "env=prod"));
        let msg = refused(SEED_JSON, &given, None);
        assert!(
            msg.starts_with(
                "parameter 'Tag' is of Type Json, but its value 'env=prod' (given with --parameter) is not JSON: "
            ),
            "{msg}"
        );
        assert!(msg.contains("line 1 column"), "{msg}");
    }

    #[test]
    fn boolean_parameters_must_be_true_or_false() {
        let template = with_parameter(json!({"Type": "Boolean"}), "Encrypted");
        assert_eq!(
            refused(&template, &[("P", "maybe")], None),
            "parameter 'P' is of Type Boolean, but its value 'maybe' (given with --parameter) is not true or false"
        );
        assert_eq!(
            accepted(&template, &[("P", "FALSE")]).encrypted,
            Some(false)
        );
        assert_eq!(accepted(&template, &[]).encrypted, None);
    }

    #[test]
    fn defaults_are_used_when_no_value_is_given() {
        let template = json!({
            "Parameters": {
                "Image": {"Type": "String", "Default": "m-default"},
                "Count": {"Type": "String", "Default": 42},
                "Tags": {"Type": "Json", "Default": [{"Key": "a", "Value": 1}]},
                "TagsText": {"Type": "Json", "Default": "[{\"Key\": \"b\"}]"},
                "Flag": {"Type": "Boolean", "Default": true},
                "Same": {"Type": "Boolean", "Default": "True"}
            },
            "Resources": {"Copy": {"Type": "ALIYUN::ECS::CopyImage", "Properties": {
                "ImageId": {"Ref": "Image"},
                "DestinationImageName": {"Ref": "Count"},
                "Tag": {"Ref": "Tags"},
                "Encrypted": {"Ref": "Flag"},
                "AllowCopyInSameRegion": {"Ref": "Same"}
            }}}
        })
        .to_string();
        let got = accepted(&template, &[]);
        assert_eq!(got.image_id.as_deref(), Some("m-default"));
        assert_eq!(got.destination_image_name.as_deref(), Some("42"));
        assert_eq!(got.tags, Some(vec![("a".into(), "1".into())]));
        assert_eq!(got.encrypted, Some(true));
        assert_eq!(got.allow_copy_in_same_region, Some(true));
        let given = accepted(&template, &[("Image", "m-given"), ("TagsText", "[]")]);
        assert_eq!(given.image_id.as_deref(), Some("m-given"));
        let text = template.replace(r#""Tag":{"Ref":"Tags"}"#, r#""Tag":{"Ref":"TagsText"}"#);
        assert_ne!(text, template, "the test must switch the Tag parameter");
        assert_eq!(
            accepted(&text, &[]).tags,
            Some(vec![("b".into(), String::new())])
        );
    }

    #[test]
    fn comma_delimited_lists_are_split() {
        let template = with_parameter(json!({"Type": "CommaDelimitedList"}), "Tag");
        let msg = refused(&template, &[("P", "a,b")], None);
        assert_eq!(
            msg,
            "resource 'Copy': property 'Tag', element 1 of 2: must be a mapping with Key and \
             Value, but it is a string (\"a\")"
        );
    }

    #[test]
    fn unknown_parameter_types_are_refused() {
        let template = with_parameter(json!({"Type": "ALIYUN::OOS::Parameter::Value"}), "ImageId");
        let msg = refused(&template, &[], None);
        assert!(
            msg.contains("parameter 'P' has the Type 'ALIYUN::OOS::Parameter::Value', which copy-image does not support"),
            "{msg}"
        );
        let untyped = with_parameter(json!({"Default": "x"}), "ImageId");
        assert_eq!(refused(&untyped, &[], None), "parameter 'P' has no Type");
    }

    #[test]
    fn literal_properties_need_no_parameters() {
        let template = r#"
Resources:
  Copy:
    Type: ALIYUN::ECS::CopyImage
    DependsOn: Other
    DeletionPolicy: Retain
    Properties:
      ImageId: m-bp1literal
      SourceRegionId: cn-hangzhou
      DestinationRegionId: cn-hangzhou
      DestinationImageName: 2024
      DestinationDescription: 1.5
      Encrypted: "True"
      KMSKeyId: 12345
      ResourceGroupId: rg-acfm
      AllowCopyInSameRegion: true
      Tag:
        - Key: build
          Value: 42
        - Key: empty
        - Key: null-value
          Value:
        - Key: text
          Value: "007"
"#;
        assert_eq!(
            accepted(template, &[]),
            CopyProperties {
                origin: "resource 'Copy' of t.yaml".into(),
                image_id: Some("m-bp1literal".into()),
                source_region_id: Some("cn-hangzhou".into()),
                destination_region_id: Some("cn-hangzhou".into()),
                destination_image_name: Some("2024".into()),
                destination_description: Some("1.5".into()),
                encrypted: Some(true),
                kms_key_id: Some("12345".into()),
                tags: Some(vec![
                    ("build".into(), "42".into()),
                    ("empty".into(), String::new()),
                    ("null-value".into(), String::new()),
                    ("text".into(), "007".into()),
                ]),
                resource_group_id: Some("rg-acfm".into()),
                allow_copy_in_same_region: Some(true),
            }
        );
    }

    #[test]
    fn boolean_properties_take_booleans_and_their_names() {
        for (value, expected) in [
            (json!(false), false),
            (json!("FALSE"), false),
            (json!("true"), true),
        ] {
            let got = accepted(&with_properties(json!({"Encrypted": value})), &[]);
            assert_eq!(got.encrypted, Some(expected));
        }
        for value in [json!(1), json!("yes"), json!(null), json!([true])] {
            let msg = refused(
                &with_properties(json!({"AllowCopyInSameRegion": value})),
                &[],
                None,
            );
            assert!(
                msg.starts_with("resource 'Copy': property 'AllowCopyInSameRegion' must be true or false, but it is"),
                "{msg}"
            );
        }
    }

    #[test]
    fn string_properties_refuse_booleans_lists_and_mappings() {
        for (value, kind) in [
            (json!(true), "a boolean (true)"),
            (json!(["m-1"]), "a list"),
            (json!({"Id": "m-1"}), "a mapping"),
            (json!(null), "null"),
        ] {
            assert_eq!(
                refused(&with_properties(json!({"ImageId": value})), &[], None),
                format!("resource 'Copy': property 'ImageId' must be a string, but it is {kind}")
            );
        }
    }

    #[test]
    fn tag_elements_are_checked_one_by_one() {
        let cases = [
            (json!("env=prod"), "property 'Tag' must be a list of mappings with Key and Value, but it is a string (\"env=prod\")"),
            (json!({"Key": "env"}), "property 'Tag' must be a list of mappings with Key and Value, but it is a mapping"),
            (json!([{"Key": "a"}, "b"]), "property 'Tag', element 2 of 2: must be a mapping with Key and Value, but it is a string (\"b\")"),
            (json!([{"Value": "a"}]), "property 'Tag', element 1 of 1: has no Key"),
            (json!([{"Key": 1}]), "property 'Tag', element 1 of 1: Key must be a string, but it is a number (1)"),
            (json!([{"Key": "a", "Value": true}]), "property 'Tag', element 1 of 1: Value must be a string or a number, but it is a boolean (true)"),
            (json!([{"Key": "a", "value": "b"}]), "property 'Tag', element 1 of 1: unknown key 'value' (a tag has Key and Value)"),
        ];
        for (tag, expected) in cases {
            assert_eq!(
                refused(&with_properties(json!({"Tag": tag})), &[], None),
                format!("resource 'Copy': {expected}")
            );
        }
        assert_eq!(
            accepted(&with_properties(json!({"Tag": []})), &[]).tags,
            Some(vec![])
        );
    }

    #[test]
    fn functions_are_refused_with_the_property_and_function() {
        let join =
            with_properties(json!({"DestinationImageName": {"Fn::Join": ["-", ["a", "b"]]}}));
        assert_eq!(
            refused(&join, &[], None),
            "resource 'Copy': property 'DestinationImageName' uses the function 'Fn::Join', which \
             copy-image does not evaluate: write the value itself, or use --destination-image-name instead"
        );
        let nested = with_properties(json!({"Tag": [{"Key": "a", "Value": {"Fn::Sub": "${x}"}}]}));
        assert!(refused(&nested, &[], None).contains("property 'Tag' uses the function 'Fn::Sub'"));
        let no_flag = with_properties(json!({"AllowCopyInSameRegion": {"Fn::GetAtt": ["A", "B"]}}));
        assert!(refused(&no_flag, &[], None)
            .ends_with("write the value itself, or pass it with --parameter"));
    }

    #[test]
    fn pseudo_parameters_say_which_flag_to_use() {
        let template = with_properties(json!({"SourceRegionId": {"Ref": "ALIYUN::Region"}}));
        assert_eq!(
            refused(&template, &[], None),
            "resource 'Copy': property 'SourceRegionId' refers to the pseudo parameter \
             'ALIYUN::Region', which copy-image does not support (it runs no stack): write the \
             value itself, or use --source-region instead"
        );
        let account =
            with_properties(json!({"DestinationDescription": {"Ref": "ALIYUN::AccountId"}}));
        assert!(refused(&account, &[], None).contains("'ALIYUN::AccountId'"));
        let yaml = "Resources:\n  C:\n    Type: ALIYUN::ECS::CopyImage\n    Properties:\n      DestinationRegionId:\n        Ref: ALIYUN::Region\n";
        assert!(refused(yaml, &[], None).ends_with("or use --destination-region instead"));
    }

    #[test]
    fn refs_must_name_declared_parameters() {
        let template = with_properties(json!({"ImageId": {"Ref": "Image"}}));
        assert_eq!(
            refused(&template, &[], None),
            "resource 'Copy': property 'ImageId' refers to 'Image', which is not declared in \
             Parameters (it declares none; a Ref to a resource is not supported)"
        );
        let not_a_name = with_properties(json!({"ImageId": {"Ref": ["Image"]}}));
        assert!(
            refused(&not_a_name, &[], None).contains("Ref must name a parameter, but it is a list")
        );
        let crowded = with_properties(json!({"ImageId": {"Ref": "Image", "Extra": 1}}));
        assert!(refused(&crowded, &[], None)
            .contains("a Ref must be alone in its mapping, but 'Extra' is beside it"));
        // Inside a Tag, a parameter without a value cannot simply be left out.
        let inner = json!({
            "Parameters": {"Env": {"Type": "String"}},
            "Resources": {"C": {"Type": "ALIYUN::ECS::CopyImage", "Properties": {
                "Tag": [{"Key": "env", "Value": {"Ref": "Env"}}]}}}
        })
        .to_string();
        assert_eq!(
            accepted(&inner, &[("Env", "prod")]).tags,
            Some(vec![("env".into(), "prod".into())])
        );
        assert!(refused(&inner, &[], None).contains("refers to parameter 'Env', which has no value: give --parameter Env=VALUE or a Default"));
    }

    #[test]
    fn unknown_properties_are_named_with_the_supported_ones() {
        let msg = refused(
            &with_properties(json!({"ImageId": "m-1", "ImageName": "x"})),
            &[],
            None,
        );
        assert_eq!(
            msg,
            "resource 'Copy': unknown property 'ImageName'; ALIYUN::ECS::CopyImage has ImageId, \
             SourceRegionId, DestinationRegionId, DestinationImageName, DestinationDescription, \
             Encrypted, KMSKeyId, Tag, ResourceGroupId, AllowCopyInSameRegion"
        );
        let close = refused(&with_properties(json!({"KmsKeyId": "k"})), &[], None);
        assert!(
            close.contains("unknown property 'KmsKeyId' (did you mean 'KMSKeyId'?)"),
            "{close}"
        );
    }

    fn two_copies(extra: Option<Value>) -> String {
        let mut resources = json!({
            "ToShanghai": {"Type": "ALIYUN::ECS::CopyImage", "Properties": {"DestinationRegionId": "cn-shanghai"}},
            "ToBeijing": {"Type": "ALIYUN::ECS::CopyImage", "Properties": {"DestinationRegionId": "cn-beijing"}}
        });
        if let Some(extra) = extra {
            resources["Vpc"] = extra;
        }
        json!({"Resources": resources}).to_string()
    }

    #[test]
    fn several_copy_image_resources_need_resource() {
        let template = two_copies(None);
        assert_eq!(
            refused(&template, &[], None),
            "the template has several ALIYUN::ECS::CopyImage resources ('ToBeijing', \
             'ToShanghai'): pick one with --resource"
        );
        let got = from_template("t.json", &template, &[], Some("ToBeijing")).unwrap();
        assert_eq!(got.destination_region_id.as_deref(), Some("cn-beijing"));
        assert_eq!(got.origin, "resource 'ToBeijing' of t.json");
        assert_eq!(
            refused(&template, &[], Some("ToWuhan")),
            "--resource 'ToWuhan': the template has no such resource (its resources: \
             'ToBeijing', 'ToShanghai')"
        );
    }

    #[test]
    fn other_resource_types_are_refused_unless_resource_picks_a_copy() {
        let vpc = json!({"Type": "ALIYUN::ECS::VPC", "Properties": {"CidrBlock": "10.0.0.0/8"}});
        let template = two_copies(Some(vpc));
        let msg = refused(&template, &[], None);
        assert_eq!(
            msg,
            "copy-image runs only ALIYUN::ECS::CopyImage resources, but the template also has \
             'Vpc' (ALIYUN::ECS::VPC): pick the one to run with --resource ('ToBeijing', 'ToShanghai')"
        );
        let got = from_template("t", &template, &[], Some("ToShanghai")).unwrap();
        assert_eq!(got.destination_region_id.as_deref(), Some("cn-shanghai"));
        assert_eq!(
            refused(&template, &[], Some("Vpc")),
            "--resource 'Vpc': the resource is of type 'ALIYUN::ECS::VPC', not ALIYUN::ECS::CopyImage"
        );
        let only_vpc = json!({"Resources": {"Vpc": {"Type": "ALIYUN::ECS::VPC"}}}).to_string();
        assert_eq!(
            refused(&only_vpc, &[], None),
            "the template has no ALIYUN::ECS::CopyImage resource (its resources: 'Vpc' (ALIYUN::ECS::VPC))"
        );
        assert!(refused(r#"{"Resources": {}}"#, &[], None).contains("Resources is empty"));
        assert_eq!(
            refused(r#"{"Outputs": {}}"#, &[], None),
            "the template has no Resources section"
        );
    }

    #[test]
    fn conditions_are_refused_and_other_attributes_named() {
        let template = json!({
            "Conditions": {"Prod": {"Fn::Equals": ["a", "a"]}},
            "Resources": {"C": {"Type": "ALIYUN::ECS::CopyImage", "Condition": "Prod", "Properties": {}}}
        })
        .to_string();
        assert_eq!(
            refused(&template, &[], None),
            "resource 'C' has the Condition a string (\"Prod\"), which copy-image does not \
             evaluate: remove it to run the resource"
        );
        let count =
            json!({"Resources": {"C": {"Type": "ALIYUN::ECS::CopyImage", "Count": 3}}}).to_string();
        assert!(refused(&count, &[], None).starts_with("resource 'C' has the attribute 'Count'"));
    }

    #[test]
    fn sections_and_version_are_checked() {
        let rules = json!({"Rules": {}, "Resources": {}}).to_string();
        assert!(refused(&rules, &[], None).starts_with("unsupported template section 'Rules'"));
        let version =
            json!({"ROSTemplateFormatVersion": "2010-09-09", "Resources": {}}).to_string();
        assert_eq!(
            refused(&version, &[], None),
            "ROSTemplateFormatVersion must be '2015-09-01', but it is a string (\"2010-09-09\")"
        );
        let unquoted = "ROSTemplateFormatVersion: 2015-09-01\nDescription: x\nMetadata: {}\nResources:\n  C:\n    Type: ALIYUN::ECS::CopyImage\n";
        assert_eq!(accepted(unquoted, &[]).image_id, None);
    }

    #[test]
    fn malformed_json_names_the_line() {
        let broken =
            "{\n  \"Resources\": {\n    \"C\": {\"Type\": \"ALIYUN::ECS::CopyImage\",}\n  }\n}";
        let msg = refused(broken, &[], None);
        assert!(msg.starts_with("invalid JSON: "), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let broken = "Resources:\n  C:\n    Type: ALIYUN::ECS::CopyImage\n   Properties: [\n";
        let msg = refused(broken, &[], None);
        assert!(msg.starts_with("invalid YAML: "), "{msg}");
        assert!(msg.contains("line 4"), "{msg}");
        let tabs = "Resources:\n\tC: 1\n";
        assert!(refused(tabs, &[], None).contains("line 2"));
    }

    #[test]
    fn yaml_short_form_functions_are_explained() {
        let short = "Resources:\n  C:\n    Type: ALIYUN::ECS::CopyImage\n    Properties:\n      ImageId: !Ref Image\n";
        let msg = refused(short, &[], None);
        assert!(msg.starts_with("invalid YAML: "), "{msg}");
        assert!(msg.contains("write `Ref: NAME`"), "{msg}");
    }

    #[test]
    fn the_top_level_must_be_a_mapping() {
        assert_eq!(
            refused("- Resources\n- Parameters\n", &[], None),
            "the top level must be a ROS template: a mapping with Resources, but it is a list"
        );
        assert!(refused("[]", &[], None).ends_with("but it is a list"));
        assert!(refused("just text", &[], None).ends_with("but it is a string (\"just text\")"));
        assert!(refused("", &[], None).starts_with("the file is empty"));
        let e = from_properties("p.json", "[1, 2]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.json: the top level must be the Properties of an ALIYUN::ECS::CopyImage resource, but it is a list"
        );
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        let text = format!("\u{feff}{}", with_properties(json!({"ImageId": "m-1"})));
        assert_eq!(accepted(&text, &[]).image_id.as_deref(), Some("m-1"));
    }

    #[test]
    fn properties_files_in_json_and_yaml() {
        let json = r#"{"ImageId": "m-1", "DestinationRegionId": "cn-shanghai", "Encrypted": "false",
                       "Tag": [{"Key": "env", "Value": "prod"}]}"#;
        let yaml = "ImageId: m-1\nDestinationRegionId: cn-shanghai\nEncrypted: 'false'\nTag:\n  - Key: env\n    Value: prod\n";
        let expected = CopyProperties {
            origin: "props".into(),
            image_id: Some("m-1".into()),
            destination_region_id: Some("cn-shanghai".into()),
            encrypted: Some(false),
            tags: Some(vec![("env".into(), "prod".into())]),
            ..CopyProperties::default()
        };
        assert_eq!(from_properties("props", json).unwrap(), expected);
        assert_eq!(from_properties("props", yaml).unwrap(), expected);
    }

    #[test]
    fn properties_files_have_no_parameters() {
        let e = from_properties("p.yaml", "ImageId:\n  Ref: ImageId\n").unwrap_err();
        assert_eq!(e.file, "p.yaml");
        assert_eq!(
            e.problem,
            "property 'ImageId' refers to 'ImageId' (Ref), but a properties file has no \
             parameters: write the value itself, or use --template with a Parameters section"
        );
        let region =
            from_properties("p.yaml", "SourceRegionId: {Ref: 'ALIYUN::Region'}").unwrap_err();
        assert!(
            region.problem.ends_with("or use --source-region instead"),
            "{region}"
        );
    }

    #[test]
    fn properties_files_that_hold_more_are_explained() {
        let template = from_properties("p.json", SEED_JSON).unwrap_err();
        assert!(
            template.problem.contains("give it with --template"),
            "{template}"
        );
        let resource = from_properties("p.yaml", "Type: ALIYUN::ECS::CopyImage\nProperties: {}\n")
            .unwrap_err();
        assert!(
            resource
                .problem
                .contains("only the mapping under Properties"),
            "{resource}"
        );
        let unknown = from_properties("p.yaml", "Image: m-1\n").unwrap_err();
        assert!(
            unknown.problem.starts_with("unknown property 'Image'"),
            "{unknown}"
        );
    }

    #[test]
    fn values_in_errors_stay_whole_and_on_one_line() {
        let long = format!("line one\nline two {}", "x".repeat(300));
        let template = with_parameter(json!({"Type": "Number"}), "ImageId");
        let msg = refused(&template, &[("P", &long)], None);
        assert!(!msg.contains('\n'), "{msg}");
        assert!(
            msg.contains(&format!("line one\\nline two {}", "x".repeat(300))),
            "{msg}"
        );
    }

    /// Simple deterministic generator for the mutation test (no extra dependency).
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    const FRAGMENTS: [&str; 24] = [
        "{",
        "}",
        "[",
        "]",
        ":",
        ",",
        "\n",
        "  ",
        "- ",
        "\"",
        "'",
        "Ref",
        "Fn::Join",
        "!Ref ",
        "ALIYUN::ECS::CopyImage",
        "Tag",
        "Key",
        "Value",
        "null",
        "true",
        "1e999",
        "&a",
        "*a",
        "<<: ",
    ];

    fn check_never_panics(text: &str) {
        let mut given = every_parameter();
        given.push(("Unknown".into(), "x".into()));
        for parameters in [&given[..], &every_parameter()[..], &[]] {
            for resource in [None, Some("CopyImage")] {
                if let Err(e) = from_template("f", text, parameters, resource) {
                    assert!(!e.problem.is_empty());
                }
            }
        }
        if let Err(e) = from_properties("f", text) {
            assert!(!e.problem.is_empty());
        }
    }

    #[test]
    fn mutated_seed_templates_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let mut accepted = 0;
        for round in 0..400 {
            let seed = if round % 2 == 0 { SEED_JSON } else { SEED_YAML };
            let mut chars: Vec<char> = seed.chars().collect();
            for _ in 0..=rng.below(4) {
                let at = rng.below(chars.len());
                match rng.below(3) {
                    0 => {
                        let end = (at + rng.below(40)).min(chars.len());
                        chars.drain(at..end);
                    }
                    1 => {
                        let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())];
                        chars.splice(at..at, fragment.chars());
                    }
                    _ => {
                        let other = rng.below(chars.len());
                        if at < chars.len() && other < chars.len() {
                            chars.swap(at, other);
                        }
                    }
                }
            }
            let text: String = chars.into_iter().collect();
            check_never_panics(&text);
            if from_template("f", &text, &every_parameter(), None).is_ok() {
                accepted += 1;
            }
        }
        // The mutations must leave some templates readable, or the deeper code goes untested.
        assert!(
            accepted > 10,
            "only {accepted} mutated templates were readable"
        );
    }

    proptest! {
        #[test]
        fn any_text_never_panics(text in "\\PC{0,200}") {
            check_never_panics(&text);
        }

        #[test]
        fn any_fragment_soup_never_panics(
            parts in prop::collection::vec(prop::sample::select(FRAGMENTS.to_vec()), 0..60)
        ) {
            check_never_panics(&parts.concat());
        }

        /// Literal properties come back as they were written, in JSON and in YAML alike.
        #[test]
        fn literal_properties_round_trip_in_json_and_yaml(
            image in "\\PC{0,20}",
            name in proptest::option::of("\\PC{0,20}"),
            encrypted in proptest::option::of(any::<bool>()),
            tags in proptest::option::of(prop::collection::vec(("\\PC{0,10}", "\\PC{0,10}"), 0..4)),
        ) {
            let mut properties = json!({"ImageId": image});
            if let Some(name) = &name {
                properties["DestinationImageName"] = json!(name);
            }
            if let Some(encrypted) = encrypted {
                properties["Encrypted"] = json!(encrypted);
            }
            if let Some(tags) = &tags {
                properties["Tag"] = tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
            }
            let template = json!({"Resources": {"C": {"Type": COPY_IMAGE_TYPE, "Properties": properties}}});
            let expected = CopyProperties {
                origin: "resource 'C' of t".into(),
                image_id: Some(image.clone()),
                destination_image_name: name.clone(),
                encrypted,
                tags: tags.clone(),
                ..CopyProperties::default()
            };
            let yaml = serde_norway::to_string(&template).unwrap();
            prop_assert_eq!(from_template("t", &template.to_string(), &[], None), Ok(expected.clone()));
            prop_assert_eq!(from_template("t", &yaml, &[], None), Ok(expected));
        }
    }
}
