#include "mount/tree.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace ob::mount {
namespace {

using Names = std::vector<std::string>;

TEST(MountTree, ShowsRemotePathsAsFilesAndTheirPrefixesAsDirectories) {
  FileTree tree;
  tree.update({{"bafyA", "/photos/2024/a.jpg", 10, "UPLOADED"},
               {"bafyB", "photos/b.jpg", 20, "UPLOADED"},
               {"bafyC", "top.txt", 30, "UPLOADING"},
               {"bafyD", "../escape", 1, "UPLOADED"},  // not showable
               {"bafyE", "photos", 5, "UPLOADED"}},   // a file where a directory is: hidden
              1000);
  EXPECT_EQ(tree.list("/"), (Names{"photos", "top.txt"}));
  EXPECT_EQ(tree.list("/photos"), (Names{"2024", "b.jpg"}));
  EXPECT_EQ(tree.list("photos/2024/"), (Names{"a.jpg"}));
  auto a = tree.lookup("/photos/2024/a.jpg");
  ASSERT_TRUE(a);
  EXPECT_FALSE(a->directory);
  EXPECT_EQ(a->id, "bafyA");
  EXPECT_EQ(a->size, 10u);
  EXPECT_EQ(a->mtime, 1000);
  EXPECT_TRUE(tree.lookup("/photos")->directory);
  EXPECT_FALSE(tree.lookup("/nothing"));
  EXPECT_FALSE(tree.lookup("/top.txt/below"));
  EXPECT_FALSE(tree.list("/top.txt"));
  // A file keeps the time it was first listed; a new one gets the new time.
  tree.update({{"bafyA", "photos/2024/a.jpg", 10, "UPLOADED"}, {"bafyF", "new.bin", 1, "PENDING"}}, 2000);
  EXPECT_EQ(tree.lookup("photos/2024/a.jpg")->mtime, 1000);
  EXPECT_EQ(tree.lookup("new.bin")->mtime, 2000);
  EXPECT_FALSE(tree.lookup("top.txt"));  // gone from the listing
}

TEST(MountTree, DirectoriesMadeInTheMountLiveUntilAFileLandsInThem) {
  FileTree tree;
  tree.update({{"bafyA", "a/x", 1, "UPLOADED"}}, 10);
  EXPECT_TRUE(tree.make_directory("/new", 11));
  EXPECT_FALSE(tree.make_directory("/new", 11));          // taken
  EXPECT_FALSE(tree.make_directory("/missing/deeper", 11));  // no parent
  EXPECT_TRUE(tree.make_directory("/new/deeper", 12));
  EXPECT_EQ(tree.list("/"), (Names{"a", "new"}));
  EXPECT_EQ(tree.remove_directory("/new"), ENOTEMPTY);
  EXPECT_EQ(tree.remove_directory("/a"), ENOTEMPTY);  // holds a remote file
  EXPECT_EQ(tree.remove_directory("/a/x"), ENOTDIR);
  EXPECT_EQ(tree.remove_directory("/nope"), ENOENT);
  // A file written into a new directory shows at once, and stays once the listing has it.
  EXPECT_TRUE(tree.set_written("/new/deeper/f.bin", 5, 13));
  EXPECT_EQ(tree.lookup("/new/deeper/f.bin")->size, 5u);
  EXPECT_FALSE(tree.set_written("/a/x", 1, 13));  // an uploaded file is not replaced
  tree.update({{"bafyA", "a/x", 1, "UPLOADED"}, {"bafyG", "new/deeper/f.bin", 5, "UPLOADING"}}, 20);
  EXPECT_EQ(tree.lookup("/new/deeper/f.bin")->id, "bafyG");
  EXPECT_EQ(tree.remove_directory("/new/deeper"), ENOTEMPTY);
  tree.update({{"bafyA", "a/x", 1, "UPLOADED"}}, 30);  // removed elsewhere: the directory goes too
  EXPECT_FALSE(tree.lookup("/new"));
  EXPECT_TRUE(tree.make_directory("/empty", 31));
  EXPECT_EQ(tree.remove_directory("/empty"), 0);
  EXPECT_FALSE(tree.lookup("/empty"));
}

TEST(MountTree, SplitPathRefusesDotComponents) {
  EXPECT_EQ(split_path("//a///b/"), (std::optional<Names>{Names{"a", "b"}}));
  EXPECT_EQ(split_path("/"), (std::optional<Names>{Names{}}));
  EXPECT_FALSE(split_path("a/../b"));
  EXPECT_FALSE(split_path("./a"));
}

}  // namespace
}  // namespace ob::mount
