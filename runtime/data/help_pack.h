// Where a LibreOffice help pack (Debian package libreoffice-help-LANG) lies, and which version it is.
//
// Two places, both read-only:
//   installed    /usr/share/libreoffice/help/<Dir>/, version from
//                `dpkg-query -W -f '${Status} ${Version}' libreoffice-help-<lang>`;
//   a cache      SOURCE/libreoffice-help-<lang>/, one tree per package as
//                `launch/install-deps.sh --fetch-help SOURCE <lang>...` leaves it
//                (apt-get download, then dpkg-deb -x into the tree and dpkg-deb -e
//                into its DEBIAN/): pages under usr/share/libreoffice/help/<Dir>/,
//                version from the Version field of DEBIAN/control, the package's
//                own control data (the same field dpkg-query reports once installed).
// <lang> is the site's language code in lower case (es, pt-br); <Dir> is the
// help's directory name (es, pt-BR, en-US).
#pragma once

#include <optional>
#include <string>

namespace fedtrain {

struct HelpPack {
  std::string language;  // "es"
  std::string package;   // "libreoffice-help-es"
  std::string version;   // "4:7.4.7-1+deb12u14"
  std::string dir;       // the directory of its pages: ".../help/es"
};

std::string help_package_name(const std::string& language);  // "libreoffice-help-pt-br"
std::string help_dir_name(const std::string& language);      // "pt-BR"

// The pack of `language`, installed (`source` empty) or in the cache `source`.
// Throws a ConfigError (exit 2) naming the package and how to get it when it is
// missing, and when `language` is not a language code.
HelpPack find_help_pack(const std::string& language, const std::string& source);
// The same, or nullopt when it is missing (e.g. the English reference).
std::optional<HelpPack> find_help_pack_if_present(const std::string& language, const std::string& source);

}  // namespace fedtrain
