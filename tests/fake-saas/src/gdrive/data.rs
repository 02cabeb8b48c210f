//! The Drive the fake serves, deterministic from a seed: the user's My Drive (a tree of folders with
//! Google Docs, Sheets, Slides, text files, PDFs, images and a shortcut), files other people shared
//! with the user, and shared drives with trees of their own; each file's permissions; and the changes
//! log every edit, move, trash, removal and new file is written to, which `changes.list` reads.

use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::{Rng, format_ms};

/// The folder type.
pub const FOLDER: &str = "application/vnd.google-apps.folder";
/// Google Docs.
pub const DOCUMENT: &str = "application/vnd.google-apps.document";
/// Google Sheets.
pub const SPREADSHEET: &str = "application/vnd.google-apps.spreadsheet";
/// Google Slides.
pub const PRESENTATION: &str = "application/vnd.google-apps.presentation";
/// A shortcut to another file.
pub const SHORTCUT: &str = "application/vnd.google-apps.shortcut";

/// How much data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Size {
    /// Folders in My Drive (nested under the root and each other).
    pub folders: usize,
    /// Files (not folders) in My Drive.
    pub files: usize,
    /// Files others shared with the user (outside any folder the user sees).
    pub shared_with_me: usize,
    /// Shared drives.
    pub drives: usize,
    /// Folders in each shared drive.
    pub drive_folders: usize,
    /// Files in each shared drive.
    pub drive_files: usize,
}

impl Default for Size {
    fn default() -> Self {
        Size { folders: 8, files: 40, shared_with_me: 4, drives: 1, drive_folders: 3, drive_files: 12 }
    }
}

/// A person: the user, and the people who own, edit or are granted files.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Their permission id (the id of their permissions).
    pub permission_id: String,
    /// Their name.
    pub name: String,
    /// Their email address.
    pub email: String,
}

/// A shared drive.
#[derive(Debug, Clone, PartialEq)]
pub struct Drive {
    /// Its id (also its root folder's id).
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was created (epoch ms).
    pub created_ms: u64,
}

/// A permission on a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Permission {
    /// `anyoneWithLink`, a user's permission id, or a domain's.
    pub id: String,
    /// `user`, `group`, `domain` or `anyone`.
    pub kind: &'static str,
    /// `owner`, `organizer`, `fileOrganizer`, `writer`, `commenter` or `reader`.
    pub role: &'static str,
    /// A user's index among the users.
    pub user: Option<usize>,
    /// A domain's name.
    pub domain: Option<String>,
    /// Inherited from the shared drive (members of a shared drive).
    pub inherited: bool,
}

/// What a file holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Nothing (folders, shortcuts).
    Nothing,
    /// A Google Docs, Sheets or Slides file: its text as export gives it.
    Native(String),
    /// Bytes (text files, PDFs, images).
    Blob(Vec<u8>),
}

/// A file or folder.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its MIME type.
    pub mime_type: String,
    /// Its parent folder (none: shared with the user from somewhere they can't see).
    pub parent: Option<String>,
    /// Its owner's index (none in a shared drive).
    pub owner: Option<usize>,
    /// Who changed it last (a user's index).
    pub modifier: usize,
    /// The shared drive it is in.
    pub drive: Option<String>,
    /// When it was created and last modified (epoch ms).
    pub created_ms: u64,
    /// When it was last modified.
    pub modified_ms: u64,
    /// Its version: every change raises it.
    pub version: u64,
    /// In the trash.
    pub trashed: bool,
    /// Deleted for good (or the user lost access): gone from lists and reads.
    pub removed: bool,
    /// Its content.
    pub body: Body,
    /// A shortcut's target.
    pub target: Option<String>,
    /// Who may do what.
    pub permissions: Vec<Permission>,
}

impl File {
    /// Whether it is a folder.
    pub fn is_folder(&self) -> bool {
        self.mime_type == FOLDER
    }
}

/// One entry of the changes log.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Its position: the page token that starts at it.
    pub seq: u64,
    /// The file that changed.
    pub file_id: String,
    /// When (epoch ms).
    pub time_ms: u64,
}

/// The data.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// People; the first is the user the credentials belong to.
    pub users: Vec<User>,
    /// The user's My Drive root folder id.
    pub root_id: String,
    /// Shared drives.
    pub drives: Vec<Drive>,
    files: Vec<File>,
    /// The changes log.
    pub changes: Vec<Change>,
    /// The page token of the next change.
    pub next_seq: u64,
    clock_ms: u64,
    ids: u64,
}

/// 2024-01-01T00:00:00Z.
const START_MS: u64 = 1_704_067_200_000;
const DAY_MS: u64 = 86_400_000;

const WORDS: &[&str] = &[
    "budget",
    "roadmap",
    "customer",
    "launch",
    "hiring",
    "design",
    "review",
    "pricing",
    "security",
    "migration",
    "onboarding",
    "forecast",
    "metrics",
    "retention",
    "partner",
    "contract",
    "incident",
    "quality",
    "research",
    "platform",
    "mobile",
    "analytics",
    "revenue",
    "support",
    "training",
    "compliance",
    "vendor",
    "timeline",
];
const FOLDER_NAMES: &[&str] = &["Projects", "Plans", "Finance", "Design", "Meetings", "Archive", "Hiring", "Research"];

fn words(rng: &mut Rng, n: usize) -> String {
    (0..n).map(|_| *rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

/// The md5 of `bytes`, as Drive writes it (lowercase hex).
pub fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Dataset {
    /// The Drive for `seed` and `size`.
    pub fn generate(seed: u64, size: &Size) -> Self {
        let mut rng = Rng::new(seed);
        let users = [
            ("Ada Lovelace", "ada"),
            ("Grace Hopper", "grace"),
            ("Alan Turing", "alan"),
            ("Edsger Dijkstra", "edsger"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (name, handle))| User {
            permission_id: format!("{:020}", 1_234_567_890_123_456_000 + i as u64 * 7919),
            name: name.to_string(),
            email: format!("{handle}@acme.com"),
        })
        .collect();
        let mut data = Dataset {
            users,
            root_id: format!("0AMyDrive{seed:08}Uk9PVA"),
            drives: Vec::new(),
            files: Vec::new(),
            changes: Vec::new(),
            next_seq: 1000 + seed % 1000,
            clock_ms: START_MS,
            ids: 0,
        };
        let root = data.root_id.clone();
        data.grow(&mut rng, &root, None, size.folders, size.files);
        for i in 0..size.shared_with_me {
            let owner = 1 + i % (data.users.len() - 1);
            let mut file = data.new_file(&mut rng, None, None, i);
            file.owner = Some(owner);
            file.modifier = owner;
            file.permissions = vec![data.user_permission(owner, "owner"), data.user_permission(0, "reader")];
            data.files.push(file);
        }
        for d in 0..size.drives {
            let id = format!("0ADrive{d:03}{seed:06}Uk9PVA");
            let name = ["Engineering", "Sales", "Operations"][d % 3].to_string();
            data.drives.push(Drive { id: id.clone(), name, created_ms: START_MS + d as u64 * DAY_MS });
            data.grow(&mut rng, &id, Some(&id), size.drive_folders, size.drive_files);
        }
        data.clock_ms = data.files.iter().map(|f| f.modified_ms).max().unwrap_or(START_MS);
        data
    }

    /// Adds `folders` folders and `files` files under `root` (of shared drive `drive`).
    fn grow(&mut self, rng: &mut Rng, root: &str, drive: Option<&str>, folders: usize, files: usize) {
        let mut containers = vec![root.to_string()];
        for i in 0..folders {
            let parent = rng.pick(&containers).clone();
            let mut folder = self.new_file(rng, Some(&parent), drive, i);
            folder.mime_type = FOLDER.into();
            folder.name = format!("{} {}", FOLDER_NAMES[i % FOLDER_NAMES.len()], i / FOLDER_NAMES.len() + 1)
                .trim_end_matches(" 1")
                .to_string();
            folder.body = Body::Nothing;
            containers.push(folder.id.clone());
            self.files.push(folder);
        }
        for i in 0..files {
            let parent = rng.pick(&containers).clone();
            let file = self.new_file(rng, Some(&parent), drive, i);
            self.files.push(file);
        }
        // A shortcut to the first file, beside it.
        if let Some(target) = self.files.iter().rev().find(|f| !f.is_folder() && f.drive.as_deref() == drive).cloned() {
            let mut shortcut = self.new_file(rng, target.parent.as_deref(), drive, 0);
            shortcut.mime_type = SHORTCUT.into();
            shortcut.name = format!("Shortcut to {}", target.name);
            shortcut.body = Body::Nothing;
            shortcut.target = Some(target.id);
            self.files.push(shortcut);
        }
    }

    fn next_id(&mut self, rng: &mut Rng) -> String {
        self.ids += 1;
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let tail: String = (0..28).map(|_| ALPHABET[rng.below(64) as usize] as char).collect();
        format!("1{tail}{:04}", self.ids)
    }

    fn user_permission(&self, user: usize, role: &'static str) -> Permission {
        Permission {
            id: self.users[user].permission_id.clone(),
            kind: "user",
            role,
            user: Some(user),
            domain: None,
            inherited: false,
        }
    }

    /// A generated file of a random type (the `i`th of its batch) in `parent` of `drive`.
    fn new_file(&mut self, rng: &mut Rng, parent: Option<&str>, drive: Option<&str>, i: usize) -> File {
        let created_ms = START_MS + rng.below(300 * DAY_MS);
        let modified_ms = created_ms + rng.below(60 * DAY_MS);
        let topic = words(rng, 2);
        let (mime, name, body): (&str, String, Body) = match rng.below(10) {
            0..=3 => (
                DOCUMENT,
                format!("{} notes {i}", capitalise(&topic)),
                Body::Native(format!("{}.\n\n{}.\n", capitalise(&words(rng, 12)), capitalise(&words(rng, 20)))),
            ),
            4 => (
                SPREADSHEET,
                format!("{} tracker {i}", capitalise(&topic)),
                Body::Native(format!(
                    "Item,Owner,Amount\n{},{},{}\n{},{},{}\n",
                    words(rng, 1),
                    "Ada",
                    rng.below(1000),
                    words(rng, 1),
                    "Grace",
                    rng.below(1000)
                )),
            ),
            5 => (
                PRESENTATION,
                format!("{} deck {i}", capitalise(&topic)),
                Body::Native(format!("{}\n\n{}\n", capitalise(&words(rng, 4)), capitalise(&words(rng, 10)))),
            ),
            6 | 7 => (
                "text/plain",
                format!("{}-{i}.txt", topic.replace(' ', "-")),
                Body::Blob(format!("{}\n{}\n", capitalise(&words(rng, 8)), words(rng, 15)).into_bytes()),
            ),
            8 => ("application/pdf", format!("{} report {i}.pdf", capitalise(&topic)), Body::Blob(blob(rng, 2048))),
            _ => ("image/png", format!("{}-{i}.png", topic.replace(' ', "-")), Body::Blob(blob(rng, 1024))),
        };
        let id = self.next_id(rng);
        let owner = drive.is_none().then_some(0);
        let mut permissions = match drive {
            // Members of the shared drive, inherited; not listed as owners.
            Some(_) => vec![
                Permission { inherited: true, ..self.user_permission(0, "organizer") },
                Permission { inherited: true, ..self.user_permission(1, "writer") },
            ],
            None => vec![self.user_permission(0, "owner")],
        };
        if drive.is_none() && rng.below(3) == 0 {
            permissions.push(self.user_permission(1 + rng.below(3) as usize, "writer"));
        }
        if drive.is_none() && rng.below(5) == 0 {
            permissions.push(Permission {
                id: "anyoneWithLink".into(),
                kind: "anyone",
                role: "reader",
                user: None,
                domain: None,
                inherited: false,
            });
        }
        if rng.below(6) == 0 {
            permissions.push(Permission {
                id: "10487658325847589372k".into(),
                kind: "domain",
                role: "reader",
                user: None,
                domain: Some("acme.com".into()),
                inherited: false,
            });
        }
        File {
            id,
            name,
            mime_type: mime.into(),
            parent: parent.map(str::to_string),
            owner,
            modifier: rng.below(2) as usize,
            drive: drive.map(str::to_string),
            created_ms,
            modified_ms,
            version: 1 + rng.below(40),
            trashed: false,
            removed: false,
            body,
            target: None,
            permissions,
        }
    }

    /// Every file, removed ones included.
    pub fn all(&self) -> &[File] {
        &self.files
    }

    /// The file `id`, unless removed.
    pub fn get(&self, id: &str) -> Option<&File> {
        self.files.iter().find(|f| f.id == id && !f.removed)
    }

    /// The shared drive `id`.
    pub fn drive(&self, id: &str) -> Option<&Drive> {
        self.drives.iter().find(|d| d.id == id)
    }

    /// The root folder of My Drive, or of shared drive `id`, as a file resource with every field.
    pub fn root_json(&self, id: &str) -> Option<Value> {
        let (name, drive) = if id == self.root_id || id == "root" {
            ("My Drive".to_string(), None)
        } else {
            let drive = self.drive(id)?;
            (drive.name.clone(), Some(drive.id.clone()))
        };
        let id = if id == "root" { self.root_id.clone() } else { id.to_string() };
        let mut file = json!({
            "kind": "drive#file", "id": id, "name": name, "mimeType": FOLDER, "trashed": false,
            "explicitlyTrashed": false, "starred": false, "createdTime": format_ms(START_MS),
            "modifiedTime": format_ms(START_MS), "version": "1", "shared": drive.is_some(),
            "webViewLink": format!("https://drive.google.com/drive/folders/{id}"),
        });
        match drive {
            Some(drive) => file["driveId"] = json!(drive),
            None => {
                file["owners"] = json!([self.user_json(0)]);
                file["ownedByMe"] = json!(true);
            }
        }
        Some(file)
    }

    /// A user as a `drive#user`.
    pub fn user_json(&self, user: usize) -> Value {
        let u = &self.users[user];
        json!({
            "kind": "drive#user", "displayName": u.name, "emailAddress": u.email, "permissionId": u.permission_id,
            "me": user == 0, "photoLink": format!("https://lh3.googleusercontent.com/a/{}", u.permission_id),
        })
    }

    /// A permission as a `drive#permission`.
    pub fn permission_json(&self, file: &File, permission: &Permission) -> Value {
        let mut json = json!({
            "kind": "drive#permission", "id": permission.id, "type": permission.kind, "role": permission.role,
            "deleted": false, "pendingOwner": false,
        });
        if let Some(user) = permission.user {
            let u = &self.users[user];
            json["emailAddress"] = json!(u.email);
            json["displayName"] = json!(u.name);
            json["domain"] = json!("acme.com");
        }
        if let Some(domain) = &permission.domain {
            json["domain"] = json!(domain);
            json["displayName"] = json!(domain);
        }
        if matches!(permission.kind, "anyone" | "domain") {
            json["allowFileDiscovery"] = json!(false);
        }
        if file.drive.is_some() {
            json["permissionDetails"] = json!([{
                "permissionType": "member", "role": permission.role, "inherited": permission.inherited,
                "inheritedFrom": if permission.inherited { file.drive.clone() } else { None },
            }]);
        }
        json
    }

    /// `file` as a file resource with every field (`fields=*`).
    pub fn file_json(&self, file: &File) -> Value {
        let mut json = json!({
            "kind": "drive#file", "id": file.id, "name": file.name, "mimeType": file.mime_type,
            "starred": false, "trashed": file.trashed, "explicitlyTrashed": file.trashed,
            "createdTime": format_ms(file.created_ms), "modifiedTime": format_ms(file.modified_ms),
            "version": file.version.to_string(),
            "webViewLink": match file.mime_type.as_str() {
                FOLDER => format!("https://drive.google.com/drive/folders/{}", file.id),
                DOCUMENT => format!("https://docs.google.com/document/d/{}/edit", file.id),
                SPREADSHEET => format!("https://docs.google.com/spreadsheets/d/{}/edit", file.id),
                PRESENTATION => format!("https://docs.google.com/presentation/d/{}/edit", file.id),
                _ => format!("https://drive.google.com/file/d/{}/view", file.id),
            },
            "lastModifyingUser": self.user_json(file.modifier),
            "shared": file.permissions.len() > 1 || file.drive.is_some(),
            "permissionIds": file.permissions.iter().map(|p| p.id.clone()).collect::<Vec<_>>(),
            "capabilities": {"canEdit": file.owner == Some(0), "canDownload": true, "canShare": file.owner == Some(0)},
            "quotaBytesUsed": "0",
            "spaces": ["drive"],
        });
        if let Some(parent) = &file.parent {
            json["parents"] = json!([parent]);
        }
        match &file.drive {
            Some(drive) => {
                json["driveId"] = json!(drive);
                if file.trashed {
                    json["trashedTime"] = json!(format_ms(file.modified_ms));
                }
            }
            None => {
                let owner = file.owner.unwrap_or(0);
                json["owners"] = json!([self.user_json(owner)]);
                json["ownedByMe"] = json!(owner == 0);
                if owner != 0 {
                    json["sharingUser"] = self.user_json(owner);
                    json["sharedWithMeTime"] = json!(format_ms(file.created_ms));
                }
                // Only listed for whoever can share it.
                if owner == 0 {
                    json["permissions"] =
                        Value::Array(file.permissions.iter().map(|p| self.permission_json(file, p)).collect());
                }
            }
        }
        if let Body::Blob(bytes) = &file.body {
            json["size"] = json!(bytes.len().to_string());
            json["quotaBytesUsed"] = json!(bytes.len().to_string());
            json["md5Checksum"] = json!(md5_hex(bytes));
            json["headRevisionId"] = json!(format!("0B{}v{}", &file.id[1..9], file.version));
        }
        if let Some(target) = &file.target {
            let target_mime = self.get(target).map_or(DOCUMENT.to_string(), |t| t.mime_type.clone());
            json["shortcutDetails"] = json!({"targetId": target, "targetMimeType": target_mime});
        }
        json
    }

    /// The text `fullText` searches in a file.
    pub fn text_of(file: &File) -> String {
        match &file.body {
            Body::Native(text) => text.clone(),
            Body::Blob(bytes) if file.mime_type.starts_with("text/") => String::from_utf8_lossy(bytes).into_owned(),
            _ => String::new(),
        }
    }

    /// The next instant: now, or a millisecond after the last one.
    fn tick(&mut self) -> u64 {
        let now =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        self.clock_ms = now.max(self.clock_ms + 1);
        self.clock_ms
    }

    /// Writes a change of `id` to the log.
    fn log(&mut self, id: &str, time_ms: u64) {
        self.changes.push(Change { seq: self.next_seq, file_id: id.to_string(), time_ms });
        self.next_seq += 1;
    }

    /// Applies a mutation (`POST /_fake/mutate`): returns the file after it (with every field), or why not.
    pub fn mutate(&mut self, mutation: &Mutation) -> Result<Value, String> {
        let now = self.tick();
        let position = |data: &Dataset, id: &str| {
            data.files.iter().position(|f| f.id == id && !f.removed).ok_or_else(|| format!("no file `{id}`"))
        };
        let index = match mutation {
            Mutation::Create { name, mime_type, parent, text } => {
                let parent_file = match parent {
                    Some(p) if *p == self.root_id || self.drive(p).is_some() => None,
                    Some(p) => Some(position(self, p)?),
                    None => None,
                };
                let parent = parent.clone().unwrap_or_else(|| self.root_id.clone());
                let drive = match parent_file {
                    Some(i) => self.files[i].drive.clone(),
                    None => self.drive(&parent).map(|d| d.id.clone()),
                };
                let mut rng = Rng::new(now);
                let mut file = self.new_file(&mut rng, Some(&parent), drive.as_deref(), 0);
                file.name = name.clone();
                file.mime_type = mime_type.clone();
                file.body = match (mime_type.as_str(), text) {
                    (FOLDER | SHORTCUT, _) => Body::Nothing,
                    (m, Some(text)) if m.starts_with("application/vnd.google-apps.") => Body::Native(text.clone()),
                    (_, Some(text)) => Body::Blob(text.clone().into_bytes()),
                    (_, None) => Body::Blob(Vec::new()),
                };
                (file.created_ms, file.modified_ms, file.version) = (now, now, 1);
                self.files.push(file);
                self.files.len() - 1
            }
            Mutation::Edit { id, text } => {
                let i = position(self, id)?;
                let file = &mut self.files[i];
                file.body = match &file.body {
                    Body::Native(_) => Body::Native(text.clone()),
                    Body::Blob(_) => Body::Blob(text.clone().into_bytes()),
                    Body::Nothing => return Err(format!("`{id}` holds no content")),
                };
                file.modified_ms = now;
                i
            }
            Mutation::Rename { id, name } => {
                let i = position(self, id)?;
                self.files[i].name = name.clone();
                self.files[i].modified_ms = now;
                i
            }
            Mutation::Move { id, parent } => {
                let i = position(self, id)?;
                if *parent != self.root_id && self.drive(parent).is_none() {
                    position(self, parent)?;
                }
                self.files[i].parent = Some(parent.clone());
                i
            }
            Mutation::Trash { id } | Mutation::Untrash { id } => {
                let i = position(self, id)?;
                self.files[i].trashed = matches!(mutation, Mutation::Trash { .. });
                i
            }
            Mutation::Delete { id } => {
                let i = position(self, id)?;
                self.files[i].removed = true;
                i
            }
            Mutation::Share { id, email, role } => {
                let i = position(self, id)?;
                let user = self.users.iter().position(|u| u.email == *email).ok_or("no such user")?;
                let role = match role.as_str() {
                    "writer" => "writer",
                    "commenter" => "commenter",
                    _ => "reader",
                };
                let permission = self.user_permission(user, role);
                self.files[i].permissions.push(permission);
                i
            }
        };
        self.files[index].version += 1;
        let id = self.files[index].id.clone();
        self.log(&id, now);
        Ok(self.file_json(&self.files[index]))
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |c| c.to_uppercase().chain(chars).collect())
}

fn blob(rng: &mut Rng, len: usize) -> Vec<u8> {
    (0..len).map(|_| rng.below(256) as u8).collect()
}

/// A change a test makes between syncs (`POST /_fake/mutate`, one or a list).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    /// A new file (`parent`: a folder, a shared drive, or My Drive's root when absent).
    Create {
        /// Its name.
        name: String,
        /// Its MIME type.
        #[serde(rename = "mimeType")]
        mime_type: String,
        /// Its folder.
        parent: Option<String>,
        /// Its text.
        text: Option<String>,
    },
    /// New content (a new version, modified now).
    Edit {
        /// The file.
        id: String,
        /// Its text.
        text: String,
    },
    /// A new name.
    Rename {
        /// The file.
        id: String,
        /// Its name.
        name: String,
    },
    /// Into another folder.
    Move {
        /// The file.
        id: String,
        /// The folder.
        parent: String,
    },
    /// Into the trash.
    Trash {
        /// The file.
        id: String,
    },
    /// Out of the trash.
    Untrash {
        /// The file.
        id: String,
    },
    /// Deleted for good.
    Delete {
        /// The file.
        id: String,
    },
    /// Shared with a user.
    Share {
        /// The file.
        id: String,
        /// The user's email address.
        email: String,
        /// `reader`, `commenter` or `writer`.
        role: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_drive_has_nested_folders_every_kind_of_file_and_a_shared_drive() {
        let data = Dataset::generate(3, &Size { folders: 10, files: 60, ..Size::default() });
        let folders: Vec<&File> = data.all().iter().filter(|f| f.is_folder() && f.drive.is_none()).collect();
        assert_eq!(folders.len(), 10);
        let nested = folders.iter().filter(|f| f.parent.as_deref() != Some(data.root_id.as_str())).count();
        assert!(nested > 0, "some folders are inside others");
        for mime in [DOCUMENT, SPREADSHEET, PRESENTATION, "text/plain", "application/pdf", SHORTCUT] {
            assert!(data.all().iter().any(|f| f.mime_type == mime), "{mime}");
        }
        let drive = &data.drives[0];
        assert!(
            data.all().iter().any(|f| f.drive.as_deref() == Some(&drive.id) && f.parent.as_deref() == Some(&drive.id))
        );
        let shared = data.all().iter().filter(|f| f.owner.is_some_and(|o| o != 0)).count();
        assert_eq!(shared, 4);
        let blob = data.all().iter().find(|f| matches!(f.body, Body::Blob(_))).unwrap();
        let json = data.file_json(blob);
        assert!(json["size"].is_string() && json["md5Checksum"].as_str().unwrap().len() == 32, "{json}");
    }

    #[test]
    fn every_mutation_raises_the_version_and_writes_the_log() {
        let mut data = Dataset::generate(3, &Size::default());
        let doc = data.all().iter().find(|f| f.mime_type == DOCUMENT).unwrap().clone();
        let start = data.next_seq;
        let edited = data.mutate(&Mutation::Edit { id: doc.id.clone(), text: "New words".into() }).unwrap();
        assert_eq!(edited["version"], (doc.version + 1).to_string());
        data.mutate(&Mutation::Trash { id: doc.id.clone() }).unwrap();
        data.mutate(&Mutation::Delete { id: doc.id.clone() }).unwrap();
        assert!(data.get(&doc.id).is_none());
        assert_eq!(data.changes.iter().filter(|c| c.seq >= start).count(), 3);
        assert!(data.mutate(&Mutation::Rename { id: doc.id, name: "x".into() }).is_err(), "gone");
    }
}
