//! The entities Google Drive syncs, as tables: the account (the root), shared drives, files (folders
//! included), people and permissions. The schema and the empty batches follow from these declarations;
//! `files.rs` fills the rows from Drive's JSON.

use max_connector_sdk::table::{Column, Kind, Table};

const fn col(field: &'static str, kind: Kind, doc: &'static str) -> Column {
    Column::new(field, kind).doc(doc)
}

use Kind::{Boolean as B, Datetime as D, Integer as I, Text as T};

/// The account's id in Max.
pub const ACCOUNT_ID: &str = "me";

pub const ACCOUNT: Table = Table {
    entity: "Account",
    description: "The Google account the credentials belong to",
    columns: &[
        col("user", Kind::Ref("User"), "The account's user"),
        col("emailAddress", T, "Its email address"),
        col("displayName", T, "Its name"),
        col("storageLimit", I, "Its storage quota in bytes (none: unlimited)"),
        col("storageUsage", I, "Bytes used across Google services"),
        col("myDrive", Kind::Ref("File"), "The root folder of My Drive"),
        col("drives", Kind::Collection("Drive"), "The shared drives it is a member of"),
        col("files", Kind::Collection("File"), "Every file it sees: My Drive, shared with it, shared drives"),
    ],
};

pub const DRIVE: Table = Table {
    entity: "Drive",
    description: "A shared drive",
    columns: &[
        col("name", T, "Its name").searchable(5),
        col("createdTime", D, "When it was created"),
        col("hidden", B, "Whether it is hidden from the default view"),
        col("root", Kind::Ref("File"), "Its root folder"),
    ],
};

pub const FILE: Table = Table {
    entity: "File",
    description: "A file or folder in My Drive, shared with the user, or in a shared drive",
    columns: &[
        col("name", T, "Its name").searchable(5),
        col("mimeType", T, "Its MIME type (folders are application/vnd.google-apps.folder)"),
        col("kind", T, "folder, document, spreadsheet, presentation, shortcut or file"),
        col("parent", Kind::Ref("File"), "The folder it is in (none: shared with the user from elsewhere)"),
        col("children", Kind::Collection("File"), "A folder's files and folders"),
        col("path", T, "Where it is, from its drive's root: My Drive/Plans/Q3 plan"),
        col("drive", Kind::Ref("Drive"), "The shared drive it is in (none: My Drive or shared with the user)"),
        col("owner", Kind::Ref("User"), "Who owns it (none in shared drives)"),
        col("lastModifyingUser", Kind::Ref("User"), "Who changed it last"),
        col("createdTime", D, "When it was created"),
        col("modifiedTime", D, "When it was last modified"),
        col("size", I, "Its size in bytes (files with binary content only)"),
        col("md5Checksum", T, "The MD5 of its content (files with binary content only)"),
        col("version", I, "Its version: every change raises it"),
        col("starred", B, "Whether the user starred it"),
        col("shared", B, "Whether it is shared"),
        col("webViewLink", T, "Where it opens in a browser"),
        col("shortcutTarget", Kind::Ref("File"), "What a shortcut points at"),
        col("permissions", Kind::Collection("Permission"), "Who may do what with it"),
        col("content", T, "Its text: a document's, spreadsheet's (CSV) or presentation's, or a text file's")
            .searchable(1),
        col("contentTruncated", B, "Whether the text was cut at the size limit (or too large to export)"),
    ],
};

pub const USER: Table = Table {
    entity: "User",
    description: "A person who owns, changed or was granted a file (their permission id)",
    columns: &[
        col("displayName", T, "Their name"),
        col("emailAddress", T, "Their email address"),
        col("me", B, "Whether it is the account's user"),
        col("photoLink", T, "Their picture"),
    ],
};

pub const PERMISSION: Table = Table {
    entity: "Permission",
    description: "A grant on a file (`<file id>/<permission id>`)",
    columns: &[
        col("file", Kind::Ref("File"), "The file"),
        col("type", T, "user, group, domain or anyone"),
        col("role", T, "owner, organizer, fileOrganizer, writer, commenter or reader"),
        col("user", Kind::Ref("User"), "The user it grants (type user)"),
        col("emailAddress", T, "The user's or group's email address"),
        col("domain", T, "The domain it grants (type domain)"),
        col("displayName", T, "Who it grants, as Drive shows it"),
        col("inherited", B, "Whether it comes from a shared drive or a folder"),
        col("allowFileDiscovery", B, "Whether the file can be found by search (domain and anyone)"),
        col("expirationTime", D, "When it expires"),
        col("deleted", B, "Whether the account it grants was deleted"),
    ],
};

/// The fields of a file a sync reads (`fields=files(…)`): exactly what the rows hold.
pub const FILE_FIELDS: &str = "id,name,mimeType,parents,driveId,owners(displayName,emailAddress,permissionId,me,photoLink),\
lastModifyingUser(displayName,emailAddress,permissionId,me,photoLink),createdTime,modifiedTime,size,md5Checksum,version,\
starred,shared,trashed,webViewLink,shortcutDetails(targetId),\
permissions(id,type,role,emailAddress,domain,displayName,allowFileDiscovery,expirationTime,deleted,permissionDetails(inherited))";

/// The fields of a permission (`permissions(…)`).
pub const PERMISSION_FIELDS: &str = "id,type,role,emailAddress,domain,displayName,allowFileDiscovery,expirationTime,deleted,permissionDetails(inherited)";

/// Google's folder type.
pub const FOLDER: &str = "application/vnd.google-apps.folder";
