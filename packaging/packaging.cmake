# Installing and packaging open-bucket as a Debian package (CPack's DEB generator; scripts/package.sh
# runs it, tests/package_test.sh checks the result with dpkg-deb and lintian).
#
#   /usr/bin/open-bucket                           the binary, stripped
#   /usr/lib/systemd/user/open-bucket.service      the daemon of ~/.open-bucket (user unit)
#   /usr/lib/systemd/user/open-bucket-tracker.service
#   /usr/share/man/man1/open-bucket.1.gz           from `open-bucket --help` by help2man
#   /usr/share/doc/open-bucket/                    README, docs/*.md, openapi.yaml, copyright, changelog.gz
#
# The version is the project's plus the commit it was configured at: 0.1.0+git<12 hex digits>
# (newer commits need a reconfigure, which scripts/package.sh does).
include(GNUInstallDirs)
set(OB_DOC_DIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/open-bucket)  # the package's name, not the project's

install(TARGETS open-bucket RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_SOURCE_DIR}/packaging/open-bucket.service ${CMAKE_SOURCE_DIR}/packaging/open-bucket-tracker.service
        DESTINATION lib/systemd/user)
file(GLOB OB_DOCS ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${OB_DOCS} ${CMAKE_SOURCE_DIR}/docs/openapi.yaml
              ${CMAKE_SOURCE_DIR}/packaging/copyright
        DESTINATION ${OB_DOC_DIR})

find_program(GIT_PROGRAM git)
set(OB_GIT_COMMIT "")
if(GIT_PROGRAM)
  execute_process(COMMAND ${GIT_PROGRAM} -C ${CMAKE_SOURCE_DIR} rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE OB_GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
set(OB_PACKAGE_VERSION ${PROJECT_VERSION})
if(OB_GIT_COMMIT)
  string(APPEND OB_PACKAGE_VERSION "+git${OB_GIT_COMMIT}")
endif()

# Debian wants a changelog in the package's doc directory, compressed reproducibly (gzip -n);
# a version without a Debian revision makes this a native package, whose changelog is changelog.gz.
# Dated by the commit, so that the same commit gives the same package.
string(TIMESTAMP OB_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
if(OB_GIT_COMMIT)
  execute_process(COMMAND ${GIT_PROGRAM} -C ${CMAKE_SOURCE_DIR} log -1 --format=%cD
                  OUTPUT_VARIABLE OB_CHANGELOG_DATE OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
endif()
file(WRITE ${CMAKE_BINARY_DIR}/packaging/changelog
     "open-bucket (${OB_PACKAGE_VERSION}) unstable; urgency=medium\n\n"
     "  * Built from commit ${OB_GIT_COMMIT} of the project's repository.\n\n"
     " -- Open Bucket team <team@open-bucket.org>  ${OB_CHANGELOG_DATE}\n")
find_program(GZIP_PROGRAM gzip REQUIRED)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog.gz
                   COMMAND ${GZIP_PROGRAM} -9nkf ${CMAKE_BINARY_DIR}/packaging/changelog
                   DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog)
set(OB_PACKAGE_FILES ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/packaging/changelog.gz DESTINATION ${OB_DOC_DIR})

# The man page, from --help (help2man, a Debian package). Without help2man there is none, and
# scripts/package.sh refuses to package.
find_program(HELP2MAN_PROGRAM help2man)
if(HELP2MAN_PROGRAM)
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/packaging/open-bucket.1.gz
                     COMMAND ${HELP2MAN_PROGRAM} --no-info --no-discard-stderr
                             --name "encrypted, erasure-coded storage across untrusted machines"
                             --include ${CMAKE_SOURCE_DIR}/packaging/open-bucket.h2m
                             --output ${CMAKE_BINARY_DIR}/packaging/open-bucket.1 $<TARGET_FILE:open-bucket>
                     COMMAND ${GZIP_PROGRAM} -9nf ${CMAKE_BINARY_DIR}/packaging/open-bucket.1
                     DEPENDS open-bucket ${CMAKE_SOURCE_DIR}/packaging/open-bucket.h2m)
  list(APPEND OB_PACKAGE_FILES ${CMAKE_BINARY_DIR}/packaging/open-bucket.1.gz)
  install(FILES ${CMAKE_BINARY_DIR}/packaging/open-bucket.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()
# What scripts/package.sh builds before cpack: the binary and the generated files.
add_custom_target(package_files DEPENDS open-bucket ${OB_PACKAGE_FILES})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME open-bucket)
set(CPACK_PACKAGE_VERSION ${OB_PACKAGE_VERSION})
set(CPACK_PACKAGE_CONTACT "Open Bucket team <team@open-bucket.org>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # open-bucket_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://open-bucket.org")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: from the libraries the binary links (dpkg-shlibdeps)
# ... and fusermount3, which `open-bucket mount` needs at run time but does not link.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The synopsis, then the extended description (lines under 80 columns).
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "decentralized storage network: daemon, producer, consumer, tracker
Open Bucket encrypts a file on its owner's machine, erasure-codes it into
slots and stores each slot with a different consumer; any k slots give the
file back. A tracker places slots, audits consumers with Merkle proofs and
repairs lost slots. This package holds the open-bucket command (daemon,
Producer, Consumer, tracker, wallet, a fleet of storage nodes), systemd user
units for the daemon and the tracker, and the REST API's OpenAPI description.")
include(CPack)
