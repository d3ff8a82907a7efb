//! OpenWrt UCI configuration files (`/etc/config/*`): parser and writer faithful to
//! libuci's syntax. Built in the daemon issue; the foundation only reserves the crate.
